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
