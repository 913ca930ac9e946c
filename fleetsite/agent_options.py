"""Agent options: the global set from the app config, or the host's team's own (fleet-protocol §6.1)."""

from __future__ import annotations

import copy
from typing import Any

from accounts.models import Team
from fleetsite.models import FleetConfig


def effective(team: Team | None) -> dict[str, Any]:
    """The agent options for a host of `team`: the team's when it has any, else the global ones."""
    if team is not None and team.agent_options:
        return team.agent_options
    return FleetConfig.load().agent_options


def osquery_config_for(options: dict[str, Any], platform: str) -> dict[str, Any]:
    """The `config` object, replaced whole by `overrides.platforms.<platform>` when present."""
    overrides = options.get("overrides") or {}
    platforms = overrides.get("platforms") or {} if isinstance(overrides, dict) else {}
    config = platforms.get(platform) if isinstance(platforms, dict) else None
    if not isinstance(config, dict):
        config = options.get("config") or {}
    return copy.deepcopy(config)
