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
from sso import config as sso_config
from webhooks import config as automations

NANOSECONDS = 1_000_000_000
FEATURE_FLAGS = {
    "enable_host_users": "Collect local user accounts from hosts",
    "enable_software_inventory": "Collect installed software from hosts",
}


# Fleetsite gives every Premium feature it has without a license key. Fleet's license has no way
# to say "no device limit" or "never expires", so these are values no fleet reaches.
LICENSE_DEVICE_COUNT = 1_000_000_000
LICENSE_EXPIRATION = "9999-12-31T23:59:59Z"
LICENSE_NOTE = "Fleetsite: Premium features without a license key."


def license_json(organization: str) -> dict[str, Any]:
    """Fleet's LicenseInfo as a Premium server reports it (`GET /config` -> `license`)."""
    return {
        "tier": "premium",
        "organization": organization,
        "device_count": LICENSE_DEVICE_COUNT,
        "expiration": LICENSE_EXPIRATION,
        "note": LICENSE_NOTE,
        "allow_disable_telemetry": True,
        "managed_cloud": False,
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
        **automations.global_json(),
        "mdm": {"enabled_and_configured": False},
        "license": license_json(config.org_name),
        "logging": {},
        "update_interval": {
            "osquery_detail": settings.FLEETSITE_DETAIL_UPDATE_INTERVAL * NANOSECONDS,
            "osquery_policy": settings.FLEETSITE_POLICY_UPDATE_INTERVAL * NANOSECONDS,
        },
        "vulnerabilities": {},
        "fleet_desktop": {"transparency_url": ""},
        "sso_settings": sso_config.section(),
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


# Sections `fleetctl gitops` always sends, filled with "off" defaults when the file leaves them out.
# Fleetsite has none of these features, so it accepts them only when they switch nothing on.
GITOPS_DEFAULT_SECTIONS = frozenset({"mdm", "scripts", "yara_rules", "gitops", "host_expiry_settings"})


SECTIONS = ("org_info", "server_settings", "features", "agent_options", "sso_settings", "webhook_settings",
            "integrations")  # fmt: skip
# Sections stored in their apps' own rows: a change to them alone leaves the config row as it is.
OWN_ROWS = ("sso_settings.", "webhook_settings.", "integrations.")


def _inert(value: Any) -> bool:
    """Whether a settings tree turns nothing on: every leaf is false, empty, zero or null."""
    if isinstance(value, dict):
        return all(_inert(item) for item in value.values())
    if isinstance(value, list):
        return all(_inert(item) for item in value)
    return not value


@transaction.atomic
def update_config(actor: User, changes: dict[str, Any], force: bool = False) -> FleetConfig:
    """Apply a partial app-config change (Fleet's PATCH /config); refuses unknown sections.

    Only values that differ are written and named in the activity, so applying the same settings
    again (a scheduled `fleetctl gitops`) records nothing.
    """
    config = FleetConfig.objects.select_for_update().get_or_create(pk=1)[0]
    changed: list[str] = []

    def put(attr: str, value: Any, field: str) -> None:
        if getattr(config, attr) != value:
            setattr(config, attr, value)
            changed.append(field)

    for section, value in changes.items():
        if section in GITOPS_DEFAULT_SECTIONS:
            if not _inert(value):
                raise InvalidInput(section, f"{section} is not supported by Fleetsite; leave it out or switch it off")
            continue
        if section not in SECTIONS:
            raise InvalidInput(section, f"unknown or read-only setting {section!r}")
        if section != "agent_options" and not isinstance(value, dict):
            raise InvalidInput(section, "expected an object")
    org = changes.get("org_info") or {}
    if "org_name" in org:
        name = str(org["org_name"] or "").strip()
        if not name:
            raise InvalidInput("org_info.org_name", "organization name cannot be empty")
        put("org_name", name[:255], "org_info.org_name")
    for key in ("org_logo_url", "contact_url"):
        if key in org:
            put(key, _url(org[key], f"org_info.{key}"), f"org_info.{key}")
    server = changes.get("server_settings") or {}
    if "server_url" in server:
        url = _url(server["server_url"], "server_settings.server_url").rstrip("/")
        put("server_url", url, "server_settings.server_url")
    for key in ("live_query_disabled", "scripts_disabled"):
        if key in server:
            if not isinstance(server[key], bool):
                raise InvalidInput(f"server_settings.{key}", "expected true or false")
            put(key, server[key], f"server_settings.{key}")
    features = changes.get("features") or {}
    for key, value in features.items():
        if key not in FEATURE_FLAGS:
            raise InvalidInput(f"features.{key}", f"unknown feature flag {key!r}")
        if not isinstance(value, bool):
            raise InvalidInput(f"features.{key}", "expected true or false")
        put("features", {**(config.features or {}), key: value}, f"features.{key}")
    if "sso_settings" in changes:
        sso_config.apply(changes["sso_settings"], changed)
    automations.apply_global(changes, changed)
    options_changed = False
    if "agent_options" in changes:
        options = _checked_options(changes["agent_options"], force)
        options_changed = options != config.agent_options
        config.agent_options = options
    if options_changed or any(not field.startswith(OWN_ROWS) for field in changed):
        config.save()
    if options_changed:
        record(actor, types.EDITED_AGENT_OPTIONS, {"global": True, "team_id": None, "team_name": None})
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
