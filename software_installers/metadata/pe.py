"""exe metadata: the title and version from the PE version resource (pefile).

Fleet's rules (pkg/file/pe.go): the last string table with a ProductName (Opera's self-extractor
spells it `productname`) names the title and the last ProductVersion gives the version; a 7-Zip
self-extractor's own name counts only when nothing else names the file; Notion installs itself as
"Notion <version>". The package id is the name: an exe carries no other identifier.
"""

from __future__ import annotations

import mmap
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import pefile

from software_installers.metadata.base import MetadataError, PackageMeta

ERRORS = (pefile.PEFormatError,)
_RESOURCES = [pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_RESOURCE"]]
_SFX_NAME = "7-Zip"


@contextmanager
def _mapped(fileobj: IO[bytes]) -> Iterator[mmap.mmap]:
    """The file mapped read-only: installers run to gigabytes, so never read into memory whole.

    A stream without a file descriptor (an in-memory upload) is copied to a temporary file first.
    """
    try:
        fileno = fileobj.fileno()
    except (AttributeError, OSError, ValueError):
        with tempfile.TemporaryFile() as spool:
            fileobj.seek(0)
            shutil.copyfileobj(fileobj, spool)
            spool.flush()
            with _mapped(spool) as mapped:
                yield mapped
        return
    if os.fstat(fileno).st_size == 0:
        raise MetadataError("invalid exe package: empty file")
    with mmap.mmap(fileno, 0, access=mmap.ACCESS_READ) as mapped:
        yield mapped


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def string_tables(fileobj: IO[bytes]) -> list[dict[str, str]]:
    """Each StringFileInfo table of the version resource, in file order."""
    with _mapped(fileobj) as data:
        try:
            pe = pefile.PE(data=data, fast_load=True)
        except pefile.PEFormatError as exc:
            raise MetadataError(f"invalid exe package: {exc.value}") from exc
        try:
            pe.parse_data_directories(directories=_RESOURCES)
            tables = [
                {_text(key): _text(value) for key, value in table.entries.items()}
                for infos in getattr(pe, "FileInfo", None) or []
                for info in infos
                if getattr(info, "Key", b"") == b"StringFileInfo"
                for table in getattr(info, "StringTable", [])
            ]
        finally:
            pe.close()
    return tables


def read(fileobj: IO[bytes]) -> PackageMeta:
    name = version = sfx_name = sfx_version = ""
    for table in string_tables(fileobj):
        product = table.get("ProductName", table.get("productname", ""))
        product_version = table.get("ProductVersion", "").strip()
        if product:
            product = product.strip()
            if product == _SFX_NAME:
                sfx_name, sfx_version = product, product_version
                continue
            name = product
        if product_version:
            version = product_version
    if not name and sfx_name:
        name, version = sfx_name, sfx_version or version
    if name == "Notion" and version:
        name = f"{name} {version}"
    return PackageMeta(name=name, version=version, package_ids=[name] if name else [])
