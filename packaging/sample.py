"""Small generated "agent" targets and a loopback HTTP server, for tests and `make bench`.

Real fleetd binaries are not downloadable here: each target is a shell script or a fake PE
file (optionally padded to a realistic size), and tar.gz targets hold their executable at the
sub-path orbit expects.
"""

from __future__ import annotations

import functools
import io
import os
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from packaging.repository import Repository

ORBIT_VERSION = "1.40.0"
OSQUERY_VERSION = "5.12.1"


def _pad(data: bytes, size: int) -> bytes:
    """Pad to `size` bytes, half random (incompressible, like machine code) and half zeros."""
    missing = max(0, size - len(data))
    return data + os.urandom(missing // 2) + bytes(missing - missing // 2)


def _script(name: str, version: str, size: int = 0) -> bytes:
    return _pad(f"#!/bin/sh\necho '{name} {version}'\nexit 0\n".encode(), size)


def _exe(name: str, version: str, size: int = 0) -> bytes:
    return _pad(b"MZ\x90\x00" + f"fake {name} {version}".encode() + bytes(64), size)


def _targz(member: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        parts = member.split("/")
        for depth in range(1, len(parts)):
            info = tarfile.TarInfo("/".join(parts[:depth]))
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        info = tarfile.TarInfo(member)
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def target_files(version: str = ORBIT_VERSION, size: int = 0) -> list[tuple[str, str, str, bytes, str]]:
    """(name, platform, file name, content, version) for every target the four package types use."""
    osq = OSQUERY_VERSION
    desktop_linux = _targz("fleet-desktop/fleet-desktop", _script("fleet-desktop", version, size))
    osqueryd_app = _targz("osquery.app/Contents/MacOS/osqueryd", _script("osqueryd", osq, size))
    desktop_app = _targz("Fleet Desktop.app/Contents/MacOS/fleet-desktop", _script("fleet-desktop", version, size))
    files = []
    for platform in ("linux", "linux-arm64"):
        files += [
            ("orbit", platform, "orbit", _script(f"orbit-{platform}", version, size), version),
            ("osqueryd", platform, "osqueryd", _script(f"osqueryd-{platform}", osq, size), osq),
            ("desktop", platform, "desktop.tar.gz", desktop_linux, version),
        ]
    files += [
        ("orbit", "macos", "orbit", _script("orbit-macos", version, size), version),
        ("osqueryd", "macos-app", "osqueryd.app.tar.gz", osqueryd_app, osq),
        ("desktop", "macos", "desktop.app.tar.gz", desktop_app, version),
    ]
    for platform in ("windows", "windows-arm64"):
        files += [
            ("orbit", platform, "orbit.exe", _exe(f"orbit-{platform}", version, size), version),
            ("osqueryd", platform, "osqueryd.exe", _exe(f"osqueryd-{platform}", osq, size), osq),
        ]
    files.append(("desktop", "windows", "fleet-desktop.exe", _exe("fleet-desktop", version, size), version))
    return files


def publish(repo: Repository, scratch: Path, version: str = ORBIT_VERSION, size: int = 0) -> None:
    """Publish every sample target; orbit under <version>, <major.minor>, <major> and stable, as Fleet does."""
    major_minor = ".".join(version.split(".")[:2])
    for name, platform, filename, data, target_version in target_files(version, size):
        source = scratch / platform / name / filename
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_bytes(data)
        tags = ["stable"] if name != "orbit" else [major_minor, version.split(".")[0], "stable"]
        repo.add_target(source, platform, name, target_version, tags)


class _QuietHandler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real update servers: clients must frame responses right

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_directory(directory: Path) -> ThreadingHTTPServer:
    """Serve `directory` on 127.0.0.1 (a free port) from a daemon thread; call shutdown() when done."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
