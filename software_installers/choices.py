"""Fleet's enumerations for software installers."""

from django.db import models


class InstallStatus(models.TextChoices):
    """A host's state for one installer, as Fleet names it (fleet.SoftwareInstallerStatus)."""

    PENDING_INSTALL = "pending_install"
    INSTALLED = "installed"
    FAILED_INSTALL = "failed_install"
    PENDING_UNINSTALL = "pending_uninstall"
    FAILED_UNINSTALL = "failed_uninstall"


# Package extension -> (platform, inventory source), as Fleet maps them.
EXTENSIONS: dict[str, tuple[str, str]] = {
    "pkg": ("darwin", "apps"),
    "msi": ("windows", "programs"),
    "exe": ("windows", "programs"),
    "deb": ("linux", "deb_packages"),
    "rpm": ("linux", "rpm_packages"),
}
