"""The file tree of an installer, described once and written by each format's builder.

A `Tree` maps install paths to entries (file, directory or symlink) with their modes. Large
files stay on disk (`source`); generated ones are bytes. The orbit root that every package
shares (packaging.md §1) is assembled here.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import certifi

from packaging import constants as C
from packaging.exceptions import PackagingError
from packaging.options import PackageOptions
from packaging.targets import FetchedTargets


@dataclass
class Entry:
    """One path in the payload; `path` is absolute and POSIX-style (msi maps it under ORBITROOT)."""

    path: str
    kind: str  # "file", "dir" or "link"
    mode: int
    data: bytes | None = None
    source: Path | None = None
    link: str = ""

    @property
    def size(self) -> int:
        if self.kind != "file":
            return 0
        return len(self.data) if self.data is not None else self.source.stat().st_size  # type: ignore[union-attr]

    def open(self) -> BinaryIO:
        return io.BytesIO(self.data) if self.data is not None else self.source.open("rb")  # type: ignore[union-attr]

    def read(self) -> bytes:
        with self.open() as handle:
            return handle.read()

    def chunks(self, size: int = 1 << 20) -> Iterator[bytes]:
        with self.open() as handle:
            while chunk := handle.read(size):
                yield chunk


class Tree:
    """Payload entries by path; parents are added as 0755 directories on the way."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    def _parents(self, path: str) -> None:
        parent = posixpath.dirname(path)
        if parent in ("/", "") or parent in self.entries:
            return
        self._parents(parent)
        self.entries[parent] = Entry(parent, "dir", 0o755)

    def file(self, path: str, data: bytes | None = None, source: Path | None = None, mode: int = 0o600) -> None:
        self._parents(path)
        self.entries[path] = Entry(path, "file", mode, data=data, source=source)

    def dir(self, path: str, mode: int = 0o755) -> None:
        self._parents(path)
        self.entries[path] = Entry(path, "dir", mode)

    def link(self, path: str, target: str) -> None:
        self._parents(path)
        self.entries[path] = Entry(path, "link", 0o777, link=target)

    def sorted(self) -> list[Entry]:
        return [self.entries[path] for path in sorted(self.entries)]

    def files(self) -> list[Entry]:
        return [entry for entry in self.sorted() if entry.kind == "file"]


# --- targets per package type (packaging.md §1.3) ---------------------------------------------
@dataclass
class TargetSet:
    """The TUF target names a package needs, by role."""

    orbit: str
    osqueryd: str
    desktop: str = ""

    def names(self) -> list[str]:
        return [name for name in (self.orbit, self.osqueryd, self.desktop) if name]


def target_set(options: PackageOptions) -> TargetSet:
    o, q, d = options.orbit_channel, options.osqueryd_channel, options.desktop_channel
    if options.type in ("deb", "rpm"):
        p = C.LINUX_PLATFORM[options.arch]
        desktop = f"desktop/{p}/{d}/desktop.tar.gz"
        targets = TargetSet(f"orbit/{p}/{o}/orbit", f"osqueryd/{p}/{q}/osqueryd", desktop)
    elif options.type == "pkg":
        desktop = f"desktop/macos/{d}/desktop.app.tar.gz"
        targets = TargetSet(f"orbit/macos/{o}/orbit", f"osqueryd/macos-app/{q}/osqueryd.app.tar.gz", desktop)
    else:
        p = C.WINDOWS_PLATFORM[options.arch]
        desktop = f"desktop/{p}/{d}/fleet-desktop.exe"
        targets = TargetSet(f"orbit/{p}/{o}/orbit.exe", f"osqueryd/{p}/{q}/osqueryd.exe", desktop)
    if not options.fleet_desktop:
        targets.desktop = ""
    return targets


# Executables inside tar.gz targets, which orbit expects unpacked next to the archive.
ARCHIVE_EXECUTABLES = {
    "desktop.tar.gz": "fleet-desktop/fleet-desktop",
    "osqueryd.app.tar.gz": "osquery.app/Contents/MacOS/osqueryd",
    "desktop.app.tar.gz": "Fleet Desktop.app/Contents/MacOS/fleet-desktop",
}


def unpack_into(tree: Tree, archive: Path, directory: str) -> None:
    """Add a tar.gz target's regular files and directories under `directory`, refusing anything else."""
    expected = ARCHIVE_EXECUTABLES.get(archive.name)
    seen: set[str] = set()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = posixpath.normpath(member.name)
                if name in (".", "") or name.startswith(("/", "../")) or name == "..":
                    raise PackagingError(f"target {archive.name} has an unsafe path {member.name!r}")
                path = f"{directory}/{name}"
                if member.isdir():
                    tree.dir(path, 0o755)
                elif member.isfile():
                    handle = tar.extractfile(member)
                    data = handle.read() if handle else b""
                    tree.file(path, data=data, mode=(member.mode & 0o755) | 0o600)
                    seen.add(name)
                else:
                    raise PackagingError(f"target {archive.name} holds a link or device ({member.name!r})")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise PackagingError(f"target {archive.name} is not a valid tar.gz: {exc}") from exc
    if expected and expected not in seen:
        raise PackagingError(f"target {archive.name} lacks {expected}")


def package_version(options: PackageOptions, fetched: FetchedTargets, targets: TargetSet) -> str:
    """--version, else orbit's `custom.version` from the signed targets metadata, as fleetctl does."""
    version = options.version or fetched.version_of(targets.orbit)
    if not version:
        raise PackagingError(f"target {targets.orbit} has no custom.version: pass --version", "version")
    return version


def add_orbit_root(
    tree: Tree, root: str, options: PackageOptions, fetched: FetchedTargets, targets: TargetSet, secret_file: bool
) -> None:
    """The files every package puts in the orbit root: binaries, metadata, certificates, flags."""
    for name in targets.names():
        path = f"{root}/bin/{name}"
        tree.file(path, source=fetched.files[name], mode=0o755)
        if name.endswith(".tar.gz"):
            unpack_into(tree, fetched.files[name], posixpath.dirname(path))
    for filename in C.METADATA_FILES:
        tree.file(f"{root}/{filename}", data=fetched.metadata, mode=0o600)
    tree.file(f"{root}/osquery.flags", data=options.osquery_flagfile.encode(), mode=0o600)
    tree.file(f"{root}/certs.pem", data=Path(certifi.where()).read_bytes(), mode=0o644)
    pem_files = {
        "fleet.pem": options.fleet_certificate,
        "update.pem": options.update_tls_certificate,
        "fleet_client.crt": options.fleet_tls_client_certificate,
        "fleet_client.key": options.fleet_tls_client_key,
        "update_client.crt": options.update_tls_client_certificate,
        "update_client.key": options.update_tls_client_key,
    }
    for filename, content in pem_files.items():
        if content:
            tree.file(f"{root}/{filename}", data=content.encode(), mode=0o644 if filename.endswith(".pem") else 0o600)
    if secret_file and options.enroll_secret:
        tree.file(f"{root}/secret.txt", data=options.enroll_secret.encode(), mode=0o600)
