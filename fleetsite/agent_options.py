"""Agent options: the global set from the app config, or the host's team's own (fleet-protocol §6.1)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import Team
from fleetsite.lib import memo
from fleetsite.models import FleetConfig

_CACHE_KEY = "team-agent-options:v1"


def effective(team_id: int | None) -> dict[str, Any]:
    """The agent options for a host of `team_id`: the team's when it has any, else the global ones."""
    if team_id is not None:
        options = memo.cached(
            _CACHE_KEY,
            lambda: Team.objects.filter(pk=team_id).values_list("agent_options", flat=True).first() or {},
            variant=team_id,
        )
        if options:
            return options
    return FleetConfig.load().agent_options


@receiver([post_save, post_delete], sender=Team)
def _forget_team_options(**_: object) -> None:
    memo.forget(_CACHE_KEY)


def osquery_config_for(options: dict[str, Any], platform: str) -> dict[str, Any]:
    """The `config` object, replaced whole by `overrides.platforms.<platform>` when present.

    A shallow copy: callers add top-level keys (packs) but never change the shared nested values.
    """
    overrides = options.get("overrides") or {}
    platforms = overrides.get("platforms") or {} if isinstance(overrides, dict) else {}
    config = platforms.get(platform) if isinstance(platforms, dict) else None
    if not isinstance(config, dict):
        config = options.get("config") or {}
    return dict(config)
