"""Where installer bytes live: S3 when a bucket is configured, else the local data directory.

fleetsite.lib.filestore picks the backend (for carves too); callers only
save, open and delete by storage id (the sha256 of the bytes, so a re-upload is stored once).
"""

from __future__ import annotations

import hashlib
from typing import IO

from django.core.files import File
from django.core.files.storage import Storage

from fleetsite.lib.filestore import storage_for

_CHUNK = 1024 * 1024


def installer_storage() -> Storage:
    """The installers' storage (fleetsite.lib.filestore chooses S3 or disk for every kind of file)."""
    return storage_for("software_installers")


def digest_of(fileobj: IO[bytes]) -> tuple[str, int]:
    """(sha256 hex, size) of a file, read in chunks and rewound."""
    fileobj.seek(0)
    sha, size = hashlib.sha256(), 0
    while chunk := fileobj.read(_CHUNK):
        sha.update(chunk)
        size += len(chunk)
    fileobj.seek(0)
    return sha.hexdigest(), size


def put(storage_id: str, fileobj: IO[bytes]) -> None:
    """Store the bytes under `storage_id` unless they are already there (same digest, same bytes)."""
    storage = installer_storage()
    if storage.exists(storage_id):
        return
    fileobj.seek(0)
    storage.save(storage_id, File(fileobj, name=storage_id))


def open_installer(storage_id: str) -> IO[bytes]:
    """The stored bytes, to stream; FileNotFoundError when they are gone."""
    storage = installer_storage()
    if not storage.exists(storage_id):
        raise FileNotFoundError(storage_id)
    return storage.open(storage_id, "rb")


def delete(storage_id: str) -> None:
    installer_storage().delete(storage_id)
