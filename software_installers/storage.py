"""Where installer bytes live: S3 when a bucket is configured, else the local data directory.

The one place that picks the backend (settings docstring names the variables); callers only
save, open and delete by storage id (the sha256 of the bytes, so a re-upload is stored once).
"""

from __future__ import annotations

import hashlib
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage

_CHUNK = 1024 * 1024


def installer_storage() -> Storage:
    """A storage for installers, built from the current settings (cheap: no connection is made here)."""
    bucket = settings.FLEETSITE_S3_SOFTWARE_INSTALLERS_BUCKET
    if not bucket:
        return FileSystemStorage(location=str(settings.FLEETSITE_SOFTWARE_INSTALLERS_DIR))
    from storages.backends.s3 import S3Storage

    options = {
        "bucket_name": bucket,
        "location": settings.FLEETSITE_S3_SOFTWARE_INSTALLERS_PREFIX,
        "file_overwrite": True,
        "default_acl": None,
        "querystring_auth": False,
    }
    for option, value in (
        ("region_name", settings.FLEETSITE_S3_SOFTWARE_INSTALLERS_REGION),
        ("endpoint_url", settings.FLEETSITE_S3_SOFTWARE_INSTALLERS_ENDPOINT_URL),
        ("access_key", settings.FLEETSITE_S3_SOFTWARE_INSTALLERS_ACCESS_KEY_ID),
        ("secret_key", settings.FLEETSITE_S3_SOFTWARE_INSTALLERS_SECRET_ACCESS_KEY),
    ):
        if value:
            options[option] = value
    return S3Storage(**options)


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
