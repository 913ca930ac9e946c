"""Automation settings (Fleet's `webhook_settings` and `integrations` of the app config) and deliveries."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from fleetsite.lib import memo
from webhooks.choices import Kind, Status

_CACHE_KEY = "automation-settings:v1"


class AutomationSettings(models.Model):
    """The global `webhook_settings` and `integrations` (one row); API tokens are stored sealed, shown masked.

    Team settings live in the team's `spec_settings`, where team specs put them.
    """

    webhook_settings = models.JSONField(default=dict)
    integrations = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "automation settings"
        verbose_name_plural = "automation settings"

    def save(self, *args: object, **kwargs: object) -> None:
        self.pk = 1
        super().save(*args, **kwargs)
        memo.forget(_CACHE_KEY)

    @classmethod
    def load(cls) -> AutomationSettings:
        """The row, cached: every recorded activity asks whether the activities webhook is on."""
        return memo.cached(_CACHE_KEY, cls._load)

    @classmethod
    def _load(cls) -> AutomationSettings:
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class Delivery(models.Model):
    """One message to a webhook or ticket system, with its attempts; failures stay here for admins to see."""

    kind = models.CharField(max_length=32, choices=Kind.choices)
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The webhook URL, or the Jira/Zendesk base URL (credentials are looked up when sending, never stored here).
    url = models.CharField(max_length=2048)
    payload = models.JSONField()
    # What to undo when the delivery gives up (e.g. policy memberships to report again), and ticket targets.
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["kind", "team", "created_at"], name="delivery_kind_team"),
            models.Index(fields=["status", "created_at"], name="delivery_status"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.url} ({self.status})"
