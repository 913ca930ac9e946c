"""Activities: an append-only record of changes people make (Fleet's activity feed)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ImmutableActivity(Exception):
    """Activities are evidence; the app never edits or deletes them."""


class Activity(models.Model):
    """One change: actor (kept by name too, in case the user is deleted), type and details."""

    actor = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL)
    actor_full_name = models.CharField(max_length=255, blank=True)
    actor_email = models.CharField(max_length=254, blank=True)
    type = models.CharField(max_length=64, db_index=True)
    details = models.JSONField(default=dict)
    host = models.ForeignKey("hosts.Host", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    fleet_initiated = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "activities"

    def __str__(self) -> str:
        return f"{self.type} by {self.actor_email or 'Fleetsite'}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ImmutableActivity("activities cannot be edited")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ImmutableActivity("activities cannot be deleted")
