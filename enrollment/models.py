"""Enroll secrets: what an installer carries so a new host may join (a team)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from fleetsite.lib.tokens import digest


class EnrollSecret(models.Model):
    """A global (no team) or team secret. Unique across all scopes (fleet-protocol §4.3).

    The clear text stays because admins copy it into installers; lookups go through the digest.
    """

    secret = models.CharField(max_length=255)
    secret_digest = models.CharField(max_length=64, unique=True)
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="secrets")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def save(self, *args: object, **kwargs: object) -> None:
        self.secret_digest = digest(self.secret)
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        scope = self.team.name if self.team_id else "global"
        return f"enroll secret ({scope})"
