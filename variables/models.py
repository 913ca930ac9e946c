"""Fleet's custom (secret) variables: `$FLEET_SECRET_<NAME>` in scripts and profiles, set by gitops or the UI."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class SecretVariable(models.Model):
    """One named secret; the value is stored encrypted (`variables.crypto`) and never sent back."""

    name = models.CharField(max_length=255, unique=True)
    value_encrypted = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
