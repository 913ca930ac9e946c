"""Fleet's enumerations for hosts and labels."""

from django.db import models


class HostStatus(models.TextChoices):
    ONLINE = "online", "Online"
    OFFLINE = "offline", "Offline"
    NEW = "new", "New"
    MISSING = "missing", "Missing"
    MIA = "mia", "Missing in action (legacy alias of missing)"


class LabelType(models.TextChoices):
    BUILTIN = "builtin", "Built-in"
    REGULAR = "regular", "Regular"


class LabelMembershipType(models.TextChoices):
    DYNAMIC = "dynamic", "Dynamic"
    MANUAL = "manual", "Manual"


class DeviceMappingSource(models.TextChoices):
    """Where a host's e-mail came from (Fleet's `host_emails.source`)."""

    GOOGLE_CHROME_PROFILES = "google_chrome_profiles", "Google Chrome profiles"
    MDM_IDP_ACCOUNTS = "mdm_idp_accounts", "IdP account"
    CUSTOM_INSTALLER = "custom_installer", "Set by fleetd"
    CUSTOM_OVERRIDE = "custom_override", "Set by a user"
