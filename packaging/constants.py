"""Fixed names, paths and identifiers of Fleet's fleetd packages (packaging.md §1-§5)."""

from __future__ import annotations

PACKAGE_TYPES = ("deb", "rpm", "pkg", "msi")
ARCHES = ("amd64", "arm64")
HOST_IDENTIFIERS = ("uuid", "instance")

PACKAGE_NAME = "fleet-osquery"
DESCRIPTION = "Fleet osquery -- runtime and autoupdater"
MAINTAINER = "Fleet Device Management"
VENDOR = "Fleet Device Management"
LICENSE = "https://github.com/fleetdm/fleet/blob/main/LICENSE"
HOMEPAGE = "https://fleetdm.com"
DEFAULT_IDENTIFIER = "com.fleetdm.orbit"
DEFAULT_CHANNEL = "stable"
DEFAULT_UPDATE_INTERVAL = "15m0s"

ORBIT_ROOT = "/opt/orbit"
ENV_FILE = "/etc/default/orbit"
SYSTEMD_UNIT = "/usr/lib/systemd/system/orbit.service"
LAUNCHD_LABEL = "com.fleetdm.orbit"
LAUNCHD_PLIST = f"/Library/LaunchDaemons/{LAUNCHD_LABEL}.plist"
# Fleet writes both names with the same content (fleetctl >= 4.63).
METADATA_FILES = ("tuf-metadata.json", "updates-metadata.json")

# Windows (windows_templates.go)
MSI_PRODUCT_NAME = "Fleet osquery"
MSI_MANUFACTURER = "Fleet Device Management (fleetdm.com)"
MSI_UPGRADE_CODE = "B681CB20-107E-428A-9B14-2D3C1AFED244"
MSI_GUID_ORBITROOT = "A7DFD09E-2D2B-4535-A04F-5D4DE90F3863"
MSI_GUID_ORBITBIN = "AF347B4E-B84B-4DD4-9C4D-133BE17B613D"
MSI_SERVICE_NAME = "Fleet osquery"
MSI_SDDL = "O:SYG:SYD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)"

# TUF platform names per package (packaging.md §1.3).
LINUX_PLATFORM = {"amd64": "linux", "arm64": "linux-arm64"}
WINDOWS_PLATFORM = {"amd64": "windows", "arm64": "windows-arm64"}
