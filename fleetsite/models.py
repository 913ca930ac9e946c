"""The organisation-wide configuration Fleet calls "app config"."""

from __future__ import annotations

import copy

from django.core.cache import cache
from django.db import models

from fleetsite.constants import DEFAULT_AGENT_OPTIONS, DEFAULT_FEATURES

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
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Fleet configuration"

    def save(self, *args: object, **kwargs: object) -> None:
        self.pk = 1
        super().save(*args, **kwargs)
        cache.delete(_CACHE_KEY)

    @classmethod
    def load(cls) -> FleetConfig:
        """The configuration row, cached: agents read it on every config check-in."""
        config = cache.get(_CACHE_KEY)
        if config is None:
            config, _ = cls.objects.get_or_create(pk=1)
            cache.set(_CACHE_KEY, config, 60)
        return config
