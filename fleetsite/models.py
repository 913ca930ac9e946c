"""The organisation-wide configuration Fleet calls "app config"."""

from __future__ import annotations

import copy

from django.db import models

from fleetsite.constants import DEFAULT_AGENT_OPTIONS, DEFAULT_FEATURES
from fleetsite.lib import memo

_CACHE_KEY = "fleet-config:v1"


def _default_agent_options() -> dict:
    return copy.deepcopy(DEFAULT_AGENT_OPTIONS)


def _default_features() -> dict:
    return dict(DEFAULT_FEATURES)


class FleetConfig(models.Model):
    """A single row of settings that admins change at run time (as opposed to environment settings)."""

    org_name = models.CharField(max_length=255, default="Fleetsite")
    org_logo_url = models.URLField(blank=True)
    contact_url = models.URLField(blank=True, default="https://fleetdm.com/company/contact")
    server_url = models.CharField(max_length=255, blank=True)
    agent_options = models.JSONField(default=_default_agent_options)
    features = models.JSONField(default=_default_features)
    live_query_disabled = models.BooleanField(default=False)
    scripts_disabled = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Fleet configuration"

    def save(self, *args: object, **kwargs: object) -> None:
        self.pk = 1
        super().save(*args, **kwargs)
        memo.forget(_CACHE_KEY)

    @classmethod
    def load(cls) -> FleetConfig:
        """The configuration row, cached: agents read it on every check-in."""
        return memo.cached(_CACHE_KEY, cls._load_or_create)

    @classmethod
    def _load_or_create(cls) -> FleetConfig:
        # bulk_create skips save(): creating the default row must not start a new cache generation
        # while this very load is filling the current one.
        config = cls.objects.filter(pk=1).first()
        if config is None:
            cls.objects.bulk_create([cls(pk=1)], ignore_conflicts=True)
            config = cls.objects.get(pk=1)
        return config
