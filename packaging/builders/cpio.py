"""cpio "odc" archives (magic 070707), the format of a flat package's Payload and Scripts."""

from __future__ import annotations

import gzip
import stat
from pathlib import Path
from typing import BinaryIO

from packaging.payload import Entry

UID, GID = 0, 80  # root:admin, as Fleet's packages
GZIP_LEVEL = 1  # as deb: fast, and binaries barely compress further


def _header(name: str, mode: int, size: int, ino: int, nlink: int) -> bytes:
    encoded = name.encode() + b"\0"
    fields = (
        "070707",
        f"{0:06o}",  # dev
        f"{ino:06o}",
        f"{mode:06o}",
        f"{UID:06o}",
        f"{GID:06o}",
        f"{nlink:06o}",
        f"{0:06o}",  # rdev
        f"{0:011o}",  # mtime: fixed for reproducible packages
        f"{len(encoded):06o}",
        f"{size:011o}",
    )
    return "".join(fields).encode() + encoded


def st_mode(entry: Entry) -> int:
    kind = {"file": stat.S_IFREG, "dir": stat.S_IFDIR, "link": stat.S_IFLNK}[entry.kind]
    return kind | entry.mode


def write_odc(entries: list[Entry], out: BinaryIO, root_mode: int = 0o755) -> None:
    """Entries as `./path` members after a `.` directory, ending with TRAILER!!!."""
    out.write(_header(".", stat.S_IFDIR | root_mode, 0, 1, 2))
    for ino, entry in enumerate(entries, start=2):
        name = f".{entry.path}"
        if entry.kind == "file":
            out.write(_header(name, st_mode(entry), entry.size, ino, 1))
            for chunk in entry.chunks():
                out.write(chunk)
        elif entry.kind == "link":
            target = entry.link.encode()
            out.write(_header(name, st_mode(entry), len(target), ino, 1))
            out.write(target)
        else:
            out.write(_header(name, st_mode(entry), 0, ino, 2))
    out.write(_header("TRAILER!!!", 0, 0, 0, 1))


def write_gzipped_odc(entries: list[Entry], path: Path) -> None:
    with (
        path.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=GZIP_LEVEL, mtime=0, filename="") as out,
    ):
        write_odc(entries, out)
