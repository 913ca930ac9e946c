"""Name, version and package ids read from an installer's own metadata (Fleet's pkg/file).

deb: the `control` file inside `control.tar.*` of the ar archive. rpm: the NAME/VERSION tags of
the main header. pkg: the xar table of contents and its `Distribution` (product title, version,
pkg-ref ids). msi: the Property table (`msi.py`). exe: the PE version resource (`pe.py`).
"""

from __future__ import annotations

import bz2
import io
import lzma
import re
import struct
import tarfile
import zlib
from typing import IO
from xml.etree import ElementTree

from software_installers.metadata import msi, pe
from software_installers.metadata.base import MAX_META as _MAX_META
from software_installers.metadata.base import MetadataError, PackageMeta

__all__ = ["MetadataError", "PackageMeta", "read_metadata"]

_ERRORS = (
    OSError,
    EOFError,
    struct.error,
    tarfile.TarError,
    lzma.LZMAError,
    zlib.error,
    ElementTree.ParseError,
    ValueError,
    IndexError,
    *pe.ERRORS,
)


def read_metadata(extension: str, fileobj: IO[bytes]) -> PackageMeta:
    """What the package says about itself; empty fields when the format carries none."""
    reader = {"deb": _deb, "rpm": _rpm, "pkg": _pkg, "msi": msi.read, "exe": pe.read}.get(extension)
    fileobj.seek(0)
    try:
        meta = reader(fileobj) if reader else PackageMeta()
    except MetadataError:
        raise
    except _ERRORS as exc:
        raise MetadataError(f"invalid {extension} package: {exc}") from exc
    finally:
        fileobj.seek(0)
    return meta


# --- deb ---------------------------------------------------------------------------------------


def _deb(fileobj: IO[bytes]) -> PackageMeta:
    if fileobj.read(8) != b"!<arch>\n":
        raise MetadataError("invalid deb package: not an ar archive")
    while True:
        header = fileobj.read(60)
        if len(header) < 60:
            raise MetadataError("invalid deb package: no control archive")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip() or 0)
        if name.startswith("control.tar"):
            if size > _MAX_META:
                raise MetadataError("invalid deb package: control archive too large")
            return _deb_control(name, fileobj.read(size))
        fileobj.seek(size + (size % 2), io.SEEK_CUR)


def _deb_control(member: str, raw: bytes) -> PackageMeta:
    if member.endswith(".zst"):
        raise MetadataError("invalid deb package: zstd control archives are not supported")
    if member.endswith(".xz"):
        raw = lzma.decompress(raw)
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:*") as tar:
        for info in tar:
            if info.isfile() and info.name.lstrip("./") == "control":
                text = tar.extractfile(info).read().decode("utf-8", "replace")  # type: ignore[union-attr]
                fields = dict(re.findall(r"^([A-Za-z-]+):[ \t]*(.*)$", text, re.MULTILINE))
                package = fields.get("Package", "").strip()
                ids = [package] if package else []
                return PackageMeta(name=package, version=fields.get("Version", "").strip(), package_ids=ids)
    raise MetadataError("invalid deb package: no control file")


# --- rpm ---------------------------------------------------------------------------------------

_RPM_HEADER_MAGIC = b"\x8e\xad\xe8\x01"
_RPMTAG_NAME, _RPMTAG_VERSION = 1000, 1001


def _rpm_header(fileobj: IO[bytes]) -> tuple[dict[int, str], int]:
    """One header structure: its string tags and its byte length."""
    intro = fileobj.read(16)
    if intro[:4] != _RPM_HEADER_MAGIC:
        raise MetadataError("invalid rpm package: bad header magic")
    count, store_size = struct.unpack(">II", intro[8:16])
    if count > 100_000 or store_size > _MAX_META:
        raise MetadataError("invalid rpm package: header too large")
    index = fileobj.read(16 * count)
    store = fileobj.read(store_size)
    tags: dict[int, str] = {}
    for position in range(count):
        tag, kind, offset, _ = struct.unpack(">IIII", index[16 * position : 16 * position + 16])
        if kind in (6, 9) and offset < len(store):  # STRING, I18NSTRING
            tags[tag] = store[offset : store.index(b"\0", offset)].decode("utf-8", "replace")
    return tags, 16 + 16 * count + store_size


def _rpm(fileobj: IO[bytes]) -> PackageMeta:
    lead = fileobj.read(96)
    if lead[:4] != b"\xed\xab\xee\xdb":
        raise MetadataError("invalid rpm package: not an rpm")
    _, length = _rpm_header(fileobj)  # the signature header, padded to 8 bytes
    fileobj.seek((8 - length % 8) % 8, io.SEEK_CUR)
    tags, _ = _rpm_header(fileobj)
    name = tags.get(_RPMTAG_NAME, "")
    return PackageMeta(name=name, version=tags.get(_RPMTAG_VERSION, ""), package_ids=[name] if name else [])


# --- pkg (xar) ---------------------------------------------------------------------------------


def _pkg(fileobj: IO[bytes]) -> PackageMeta:
    header = fileobj.read(28)
    if header[:4] != b"xar!":
        raise MetadataError("invalid pkg package: not a xar archive")
    header_size, _, toc_compressed, _ = struct.unpack(">HHQQ", header[4:24])
    if toc_compressed > _MAX_META:
        raise MetadataError("invalid pkg package: table of contents too large")
    fileobj.seek(header_size)
    toc = ElementTree.fromstring(zlib.decompress(fileobj.read(toc_compressed)))
    heap = header_size + toc_compressed
    for entry in toc.iter("file"):
        if (entry.findtext("name") or "") != "Distribution":
            continue
        data = entry.find("data")
        if data is None:
            break
        offset, length = int(data.findtext("offset") or 0), int(data.findtext("length") or 0)
        if length > _MAX_META:
            break
        fileobj.seek(heap + offset)
        raw = fileobj.read(length)
        style = (data.find("encoding").get("style", "") if data.find("encoding") is not None else "") or ""
        if "gzip" in style:
            raw = zlib.decompress(raw)
        elif "bzip2" in style:
            raw = bz2.decompress(raw)
        return _distribution(ElementTree.fromstring(raw))
    return PackageMeta()


def _distribution(root: ElementTree.Element) -> PackageMeta:
    product = root.find("product")
    refs = [ref for ref in root.iter("pkg-ref") if ref.get("id")]
    ids = list(dict.fromkeys(ref.get("id", "") for ref in refs))
    version = product.get("version", "") if product is not None else ""
    if not version:
        version = next((ref.get("version", "") for ref in refs if ref.get("version")), "")
    bundle = product.get("id", "") if product is not None else ""
    return PackageMeta(
        name=(root.findtext("title") or "").strip(),
        version=version,
        bundle_identifier=bundle or (ids[0] if ids else ""),
        package_ids=ids,
    )
