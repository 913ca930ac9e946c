"""Fixtures for installer tests: real deb and rpm bytes, a multipart upload helper, installer storage in tmp."""

from __future__ import annotations

import functools
import io
import struct
import tarfile
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from scripts.tests.conftest import orbit_host  # noqa: F401 - the orbit-enrolled host fixture

BASE = "/api/latest/fleet"
ORBIT = "/api/fleet/orbit"


@functools.cache
def make_deb(package: str = "hello", version: str = "2.10-3") -> bytes:
    """A minimal .deb (ar: debian-binary, control.tar.gz, data.tar.gz); cached, as gzip stamps the time."""
    control = f"Package: {package}\nVersion: {version}\nArchitecture: amd64\nDescription: test\n".encode()
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("./control")
        info.size = len(control)
        tar.addfile(info, io.BytesIO(control))
    data_buffer = io.BytesIO()
    with tarfile.open(fileobj=data_buffer, mode="w:gz"):
        pass
    out = io.BytesIO()
    out.write(b"!<arch>\n")
    for name, body in (
        ("debian-binary", b"2.0\n"),
        ("control.tar.gz", tar_buffer.getvalue()),
        ("data.tar.gz", data_buffer.getvalue()),
    ):
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(body):<10}`\n".encode()
        out.write(header + body + (b"\n" if len(body) % 2 else b""))
    return out.getvalue()


def _rpm_header(tags: dict[int, str]) -> bytes:
    index, store = b"", b""
    for tag, value in tags.items():
        index += struct.pack(">IIII", tag, 6, len(store), 1)
        store += value.encode() + b"\0"
    return b"\x8e\xad\xe8\x01" + b"\0" * 4 + struct.pack(">II", len(tags), len(store)) + index + store


def make_rpm(name: str = "htop", version: str = "3.3.0") -> bytes:
    """A minimal .rpm: lead, an (empty) signature header padded to 8 bytes, and a header with NAME/VERSION."""
    lead = b"\xed\xab\xee\xdb" + b"\0" * 92
    signature = _rpm_header({})
    padding = b"\0" * ((8 - len(signature) % 8) % 8)
    return lead + signature + padding + _rpm_header({1000: name, 1001: version, 1002: "1"})


def upload(client: Any, path: str, filename: str, raw: bytes, method: str = "post", **fields: Any) -> Any:
    """A multipart request with a `software` file, as fleetctl and the UI send."""
    data = {"software": SimpleUploadedFile(filename, raw), **fields} if raw is not None else dict(fields)
    if method == "post":
        return client.client.post(path, data, headers=client.headers)
    return client.client.generic(
        method.upper(), path, encode_multipart(BOUNDARY, data), content_type=MULTIPART_CONTENT, headers=client.headers
    )


@pytest.fixture(autouse=True)
def _eager_tasks(eager_celery: None) -> None:
    """Policy automations are queued as Celery tasks: they run inside these tests whatever REDIS_URL says."""


@pytest.fixture(autouse=True)
def _installers_in_tmp(settings: Any, tmp_path: Any) -> None:
    settings.FLEETSITE_SOFTWARE_INSTALLERS_DIR = tmp_path / "installers"
    settings.FLEETSITE_S3_SOFTWARE_INSTALLERS_BUCKET = ""
