"""deb in pure Python (packaging.md §8.1): an `ar` archive of debian-binary, control.tar.gz, data.tar.gz.

Reproducible: every mtime is fixed, gzip headers carry mtime 0 and entries are sorted.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path
from typing import BinaryIO

from packaging import constants as C
from packaging.builders import linux
from packaging.options import PackageOptions
from packaging.payload import Entry, Tree, package_version, target_set
from packaging.targets import FetchedTargets

MTIME = 0
# Level 1: binaries are most of the payload and barely shrink at higher levels, which cost 3-4x the time.
GZIP_LEVEL = 1


def _tarinfo(name: str, kind: str, mode: int, size: int = 0, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mode = mode
    if kind == "dir":
        info.type = tarfile.DIRTYPE
    elif kind == "link":
        info.type = tarfile.SYMTYPE
        info.linkname = link
    else:
        info.size = size
    return info


def _targz(members: list[tuple[tarfile.TarInfo, BinaryIO | None]], out: BinaryIO) -> None:
    with (
        gzip.GzipFile(fileobj=out, mode="wb", compresslevel=GZIP_LEVEL, mtime=MTIME, filename="") as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.GNU_FORMAT) as tar,
    ):
        for info, handle in members:
            tar.addfile(info, handle)
            if handle is not None:
                handle.close()


def _ar_member(out: BinaryIO, name: str, source: BinaryIO, size: int) -> None:
    header = f"{name:<16}{MTIME:<12}{0:<6}{0:<6}{0o100644:<8o}{size:<10}`\n"
    out.write(header.encode())
    while chunk := source.read(1 << 20):
        out.write(chunk)
    if size % 2:
        out.write(b"\n")


def control_file(version: str, arch: str, installed_kib: int) -> str:
    return (
        f"Package: {C.PACKAGE_NAME}\n"
        f"Version: {version}\n"
        "Section: default\n"
        "Priority: optional\n"
        f"Architecture: {arch}\n"
        f"Maintainer: {C.MAINTAINER}\n"
        f"Installed-Size: {installed_kib}\n"
        f"Homepage: {C.HOMEPAGE}\n"
        f"Description: {C.DESCRIPTION}\n"
    )


def _md5sums(entries: list[Entry]) -> bytes:
    lines = []
    for entry in entries:
        digest = hashlib.md5(usedforsecurity=False)
        for chunk in entry.chunks():
            digest.update(chunk)
        lines.append(f"{digest.hexdigest()}  {entry.path.lstrip('/')}\n")
    return "".join(lines).encode()


def write_deb(tree: Tree, version: str, arch: str, scripts: dict[str, str], out_path: Path) -> None:
    """Write `tree` as a deb at `out_path`; the maintainer scripts are 0755."""
    entries = tree.sorted()
    installed_kib = max(1, sum(entry.size for entry in entries) // 1024)
    control_members: list[tuple[tarfile.TarInfo, BinaryIO | None]] = [(_tarinfo("./", "dir", 0o755), None)]
    control_data = {
        "control": (control_file(version, arch, installed_kib).encode(), 0o644),
        "md5sums": (_md5sums([entry for entry in entries if entry.kind == "file"]), 0o644),
        **{name: (text.encode(), 0o755) for name, text in scripts.items()},
    }
    for name, (data, mode) in sorted(control_data.items()):
        control_members.append((_tarinfo(f"./{name}", "file", mode, len(data)), io.BytesIO(data)))
    data_members: list[tuple[tarfile.TarInfo, BinaryIO | None]] = [(_tarinfo("./", "dir", 0o755), None)]
    for entry in entries:
        name = f".{entry.path}" + ("/" if entry.kind == "dir" else "")
        info = _tarinfo(name, entry.kind, entry.mode, entry.size, entry.link)
        data_members.append((info, entry.open() if entry.kind == "file" else None))

    work = out_path.parent
    control_path, data_path = work / ".control.tar.gz", work / ".data.tar.gz"
    try:
        with control_path.open("wb") as handle:
            _targz(control_members, handle)
        with data_path.open("wb") as handle:
            _targz(data_members, handle)
        with out_path.open("wb") as out:
            out.write(b"!<arch>\n")
            _ar_member(out, "debian-binary", io.BytesIO(b"2.0\n"), 4)
            for name, path in (("control.tar.gz", control_path), ("data.tar.gz", data_path)):
                with path.open("rb") as source:
                    _ar_member(out, name, source, path.stat().st_size)
    finally:
        control_path.unlink(missing_ok=True)
        data_path.unlink(missing_ok=True)


def build(options: PackageOptions, fetched: FetchedTargets, work: Path) -> Path:
    """A fleet-osquery deb in `work`, named as nfpm would (`fleet-osquery_<version>_<arch>.deb`)."""
    targets = target_set(options)
    version = package_version(options, fetched, targets)
    tree = linux.linux_tree(options, fetched, targets)
    scripts = {
        "postinst": linux.postinstall(options),
        "prerm": linux.preremove("remove|deconfigure"),
        "postrm": linux.postremove("remove|purge"),
    }
    out = work / f"{C.PACKAGE_NAME}_{version}_{options.arch}.deb"
    write_deb(tree, version, options.arch, scripts, out)
    return out
