"""The one place that chooses where large files live: an S3 bucket when its settings name one, else
a directory on local disk. Software installers and file carves each have their own settings group
(`FLEETSITE_S3_<GROUP>_*` and a directory); both get their Django `Storage` from `storage_for`.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage

# group -> (settings prefix of the S3 options, setting naming the local directory, its default under DATA_DIR)
GROUPS = {
    "software_installers": (
        "FLEETSITE_S3_SOFTWARE_INSTALLERS",
        "FLEETSITE_SOFTWARE_INSTALLERS_DIR",
        "software_installers",
    ),
    "carves": ("FLEETSITE_S3_CARVES", "FLEETSITE_CARVES_DIR", "carves"),
}
CHUNK = 1024 * 1024


def storage_for(group: str) -> Storage:
    """A storage for `group`, built from the current settings (cheap: no connection is made here)."""
    prefix, dir_setting, default_dir = GROUPS[group]
    bucket = getattr(settings, f"{prefix}_BUCKET", "")
    if not bucket:
        location = getattr(settings, dir_setting, None) or Path(settings.DATA_DIR) / default_dir
        return FileSystemStorage(location=str(location))
    from storages.backends.s3 import S3Storage

    options = {
        "bucket_name": bucket,
        "location": getattr(settings, f"{prefix}_PREFIX", ""),
        "file_overwrite": True,
        "default_acl": None,
        "querystring_auth": False,
    }
    for option, suffix in (
        ("region_name", "REGION"),
        ("endpoint_url", "ENDPOINT_URL"),
        ("access_key", "ACCESS_KEY_ID"),
        ("secret_key", "SECRET_ACCESS_KEY"),
    ):
        value = getattr(settings, f"{prefix}_{suffix}", "")
        if value:
            options[option] = value
    return S3Storage(**options)
