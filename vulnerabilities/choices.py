"""Enumerations of the vulnerabilities app: where a match came from."""

from django.db import models


class MatchSource(models.TextChoices):
    """Which feed produced a match: OSV's per-ecosystem ranges are exact, NVD CPE ranges are a guess by name."""

    OSV = "osv", "OSV"
    NVD = "nvd", "NVD"
