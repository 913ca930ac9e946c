"""What every package reader returns or raises, shared by the per-format modules."""

from __future__ import annotations

from dataclasses import dataclass, field

# Metadata sits at the front of most formats, or in small tables; never read more than this to find it.
MAX_META = 64 * 1024 * 1024


class MetadataError(ValueError):
    """The file is not a package of the type its extension says."""


@dataclass
class PackageMeta:
    """Fleet's InstallerMetadata: `package_ids` fill `$PACKAGE_ID`, `upgrade_code` fills `$UPGRADE_CODE`."""

    name: str = ""
    version: str = ""
    bundle_identifier: str = ""
    package_ids: list[str] = field(default_factory=list)
    upgrade_code: str = ""
