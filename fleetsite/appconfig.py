"""Reading and changing the app config (`GET/PATCH /config`, the settings page) in Fleet's shape."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from accounts import permissions
from accounts.models import Team, User
from accounts.services import InvalidInput
from activities import types
from activities.record import record
from fleetsite.lib import agent_options_check
from fleetsite.models import FleetConfig

NANOSECONDS = 1_000_000_000
FEATURE_FLAGS = {
    "enable_host_users": "Collect local user accounts from hosts",
    "enable_software_inventory": "Collect installed software from hosts",
}


def config_json(user: User) -> dict[str, Any]:
    """Fleet's app config; agent options only for those who may change them (fleet-protocol §4.9)."""
    config = FleetConfig.load()
    data: dict[str, Any] = {
        "org_info": {
            "org_name": config.org_name,
            "org_logo_url": config.org_logo_url,
            "org_logo_url_light_background": "",
            "contact_url": config.contact_url,
        },
        "server_settings": {
            "server_url": config.server_url or settings.FLEETSITE_SERVER_URL,
            "live_query_disabled": config.live_query_disabled,
            "query_reports_disabled": False,
            "scripts_disabled": config.scripts_disabled,
            "enable_analytics": False,
            "deferred_save_host": False,
            "query_report_cap": 1000,
        },
        "features": {**{k: True for k in FEATURE_FLAGS}, **(config.features or {})},
        "host_expiry_settings": {"host_expiry_enabled": False, "host_expiry_window": 0},
        "webhook_settings": {},
        "integrations": {},
        "mdm": {"enabled_and_configured": False},
        "license": {"tier": "free"},
        "logging": {},
        "update_interval": {
            "osquery_detail": settings.FLEETSITE_DETAIL_UPDATE_INTERVAL * NANOSECONDS,
            "osquery_policy": settings.FLEETSITE_POLICY_UPDATE_INTERVAL * NANOSECONDS,
        },
        "vulnerabilities": {},
        "fleet_desktop": {"transparency_url": ""},
        "sso_settings": {"enable_sso": False},
        "smtp_settings": {"configured": bool(settings.EMAIL_HOST), "enable_smtp": bool(settings.EMAIL_HOST)},
    }
    if permissions.can(user, "write", "config"):
        data["agent_options"] = config.agent_options
    return data


def _url(value: Any, field: str) -> str:
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    text = str(value or "").strip()
    if text:
        try:
            URLValidator(schemes=["http", "https"])(text)
        except ValidationError as exc:
            raise InvalidInput(field, "enter a full http:// or https:// URL") from exc
    return text


@transaction.atomic
def update_config(actor: User, changes: dict[str, Any], force: bool = False) -> FleetConfig:
    """Apply a partial app-config change (Fleet's PATCH /config); refuses unknown sections."""
    config = FleetConfig.objects.select_for_update().get_or_create(pk=1)[0]
    changed: list[str] = []
    for section, value in changes.items():
        if section not in ("org_info", "server_settings", "features", "agent_options"):
            raise InvalidInput(section, f"unknown or read-only setting {section!r}")
        if section != "agent_options" and not isinstance(value, dict):
            raise InvalidInput(section, "expected an object")
    org = changes.get("org_info") or {}
    if "org_name" in org:
        name = str(org["org_name"] or "").strip()
        if not name:
            raise InvalidInput("org_info.org_name", "organization name cannot be empty")
        config.org_name = name[:255]
        changed.append("org_info.org_name")
    for key in ("org_logo_url", "contact_url"):
        if key in org:
            setattr(config, key, _url(org[key], f"org_info.{key}"))
            changed.append(f"org_info.{key}")
    server = changes.get("server_settings") or {}
    if "server_url" in server:
        config.server_url = _url(server["server_url"], "server_settings.server_url").rstrip("/")
        changed.append("server_settings.server_url")
    for key in ("live_query_disabled", "scripts_disabled"):
        if key in server:
            if not isinstance(server[key], bool):
                raise InvalidInput(f"server_settings.{key}", "expected true or false")
            setattr(config, key, server[key])
            changed.append(f"server_settings.{key}")
    features = changes.get("features") or {}
    for key, value in features.items():
        if key not in FEATURE_FLAGS:
            raise InvalidInput(f"features.{key}", f"unknown feature flag {key!r}")
        if not isinstance(value, bool):
            raise InvalidInput(f"features.{key}", "expected true or false")
        config.features = {**(config.features or {}), key: value}
        changed.append(f"features.{key}")
    if "agent_options" in changes:
        config.agent_options = _checked_options(changes["agent_options"], force)
        record(actor, types.EDITED_AGENT_OPTIONS, {"global": True, "team_id": None, "team_name": None})
    config.save()
    if changed:
        record(actor, types.EDITED_APP_CONFIG, {"fields": changed})
    return config


def _checked_options(options: Any, force: bool) -> dict[str, Any]:
    if force:
        if not isinstance(options, dict):
            raise InvalidInput("agent_options", "agent options must be an object")
        return options
    try:
        return agent_options_check.validate(options)
    except agent_options_check.AgentOptionsError as exc:
        raise InvalidInput("agent_options", str(exc)) from exc


@transaction.atomic
def set_team_agent_options(actor: User, team: Team, options: Any, force: bool = False) -> Team:
    """A team's own agent options; an empty object means the team follows the global ones."""
    team.agent_options = _checked_options(options, force) or None
    team.save()
    record(actor, types.EDITED_AGENT_OPTIONS, {"global": False, "team_id": team.pk, "team_name": team.name}, team=team)
    return team
