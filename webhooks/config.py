"""`webhook_settings` and `integrations` of `/config` and of team config, with Fleet's keys, defaults and checks.

Fleet decodes a PATCH onto the stored config: objects merge key by key, lists (policy ids, Jira
and Zendesk integrations) are replaced. An integration sent again with its API token left empty or
as the mask keeps the stored token (server/fleet/integrations.go). New or changed Jira and Zendesk
integrations are tried against their service before they are saved, as Fleet does.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any
from urllib.parse import urlsplit

from accounts.services import InvalidInput
from fleetsite.lib.sealed import Unreadable, seal, unseal
from webhooks.models import AutomationSettings

logger = logging.getLogger(__name__)

MASK = "********"  # Fleet's MaskedPassword
DEFAULT_INTERVAL = "24h0m0s"

# server/fleet/app.go: WebhookSettings and its four webhooks, as a new install has them.
WEBHOOK_DEFAULTS: dict[str, Any] = {
    "activities_webhook": {"enable_activities_webhook": False, "destination_url": ""},
    "host_status_webhook": {
        "enable_host_status_webhook": False,
        "destination_url": "",
        "host_percentage": 0,
        "days_count": 0,
    },
    "failing_policies_webhook": {
        "enable_failing_policies_webhook": False,
        "destination_url": "",
        "policy_ids": None,
        "host_batch_size": 0,
    },
    "vulnerabilities_webhook": {"enable_vulnerabilities_webhook": False, "destination_url": "", "host_batch_size": 0},
    "interval": DEFAULT_INTERVAL,
}
# server/fleet/teams.go: a team has only these two.
TEAM_WEBHOOK_KEYS = ("host_status_webhook", "failing_policies_webhook")
JIRA_KEYS = {
    "url": str,
    "username": str,
    "api_token": str,
    "project_key": str,
    "enable_failing_policies": bool,
    "enable_software_vulnerabilities": bool,
}
ZENDESK_KEYS = {
    "url": str,
    "email": str,
    "api_token": str,
    "group_id": int,
    "enable_failing_policies": bool,
    "enable_software_vulnerabilities": bool,
}
TEAM_JIRA_KEYS = {"url": str, "project_key": str, "enable_failing_policies": bool}
TEAM_ZENDESK_KEYS = {"url": str, "group_id": int, "enable_failing_policies": bool}
# Keys fleetctl gitops sends that switch on things Fleetsite does not have; accepted only when off.
INERT_INTEGRATION_KEYS = ("google_calendar", "conditional_access_enabled", "digicert", "ndes_scep_proxy",
                          "custom_scep_proxy")  # fmt: skip
GO_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(h|m|s|ms|us|µs|ns))+$")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


class BadInput(InvalidInput):
    """A value of the wrong JSON type or an unknown key: Fleet's decoder answers 400 for these, not 422."""

    def __init__(self, reason: str) -> None:
        super().__init__("base", reason)


# --- Reading -----------------------------------------------------------------------------------


def _merged(defaults: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    out = copy.deepcopy(defaults)
    for key, value in (stored or {}).items():
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = copy.deepcopy(value)
    return out


def webhook_settings(settings: AutomationSettings | None = None) -> dict[str, Any]:
    """The global webhook settings with every default filled in (tokens are not part of them)."""
    settings = settings or AutomationSettings.load()
    return _merged(WEBHOOK_DEFAULTS, settings.webhook_settings)


# Jira and Zendesk API tokens are stored sealed (fleetsite/lib/sealed.py) under this key of an item:
# a database dump or backup does not give away the credentials of the ticket systems.
SEALED_TOKEN = "api_token_sealed"
_TOKEN_PURPOSE = b"fleetsite integration api tokens v1"


def integrations(settings: AutomationSettings | None = None) -> dict[str, Any]:
    """The global integrations with their API tokens readable: for sending, never for answering."""
    settings = settings or AutomationSettings.load()
    stored = settings.integrations or {}
    return {kind: [_opened(item) for item in stored.get(kind) or []] for kind in ("jira", "zendesk")}


def sealed_integrations(intgs: dict[str, list]) -> dict[str, list]:
    """`intgs` as stored: each API token sealed, in its place among the item's keys."""
    return {kind: [_sealed(item) for item in items] for kind, items in intgs.items()}


def _sealed(item: dict[str, Any]) -> dict[str, Any]:
    sealed: dict[str, Any] = {}
    for key, value in item.items():
        if key == "api_token":
            sealed[SEALED_TOKEN] = seal(value, _TOKEN_PURPOSE)
        else:
            sealed[key] = value
    return sealed


def _opened(item: dict[str, Any]) -> dict[str, Any]:
    """A stored item with its token unsealed (an item saved before tokens were sealed is read as it is)."""
    if SEALED_TOKEN not in item:
        return dict(item)
    opened: dict[str, Any] = {}
    for key, value in item.items():
        if key != SEALED_TOKEN:
            opened[key] = value
            continue
        try:
            opened["api_token"] = unseal(value, _TOKEN_PURPOSE)
        except Unreadable:  # SECRET_KEY changed: the token must be entered again, and the check says so
            logger.warning("the API token of the %s integration cannot be read with this SECRET_KEY", item.get("url"))
            opened["api_token"] = ""
    return opened


def global_json() -> dict[str, Any]:
    """`webhook_settings` and `integrations` as `GET /config` shows them: tokens masked (Fleet's Obfuscate)."""
    settings = AutomationSettings.load()
    intgs = integrations(settings)
    return {
        "webhook_settings": webhook_settings(settings),
        "integrations": {
            "jira": [{**item, "api_token": MASK} for item in intgs["jira"]],
            "zendesk": [{**item, "api_token": MASK} for item in intgs["zendesk"]],
            "google_calendar": None,
        },
    }


def team_webhook_settings(spec_settings: dict[str, Any] | None) -> dict[str, Any]:
    stored = (spec_settings or {}).get("webhook_settings") or {}
    defaults = {key: WEBHOOK_DEFAULTS[key] for key in TEAM_WEBHOOK_KEYS}
    return _merged(defaults, {key: stored[key] for key in TEAM_WEBHOOK_KEYS if isinstance(stored.get(key), dict)})


def team_integrations(spec_settings: dict[str, Any] | None) -> dict[str, Any]:
    stored = (spec_settings or {}).get("integrations") or {}
    return {
        "jira": [item for item in stored.get("jira") or [] if isinstance(item, dict)],
        "zendesk": [item for item in stored.get("zendesk") or [] if isinstance(item, dict)],
        "google_calendar": None,
    }


def team_json(spec_settings: dict[str, Any] | None) -> dict[str, Any]:
    """A team's `webhook_settings` and `integrations` as `GET /teams/{id}` shows them."""
    return {"webhook_settings": team_webhook_settings(spec_settings), "integrations": team_integrations(spec_settings)}


def interval_seconds(value: str) -> float:
    """A Go duration ("24h0m0s", "90m") in seconds."""
    return sum(
        float(number) * _UNITS[unit] for number, unit in re.findall(r"(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)", value)
    )


# --- Checking ----------------------------------------------------------------------------------


def _typed(value: Any, expected: type, field: str) -> Any:
    ok = isinstance(value, expected) and not (expected is not bool and isinstance(value, bool))
    if expected is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    if expected is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if not ok:
        names = {str: "string", bool: "bool", int: "int", float: "number", list: "array", dict: "object"}
        raise BadInput(f"json: cannot unmarshal {type(value).__name__} into Go struct field {field} of type "
                       f"{names.get(expected, expected.__name__)}")  # fmt: skip
    return value


def _object(value: Any, field: str, keys: dict[str, type]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadInput(f"json: cannot unmarshal into Go struct field {field}: expected an object")
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise BadInput(f'json: unknown field "{unknown[0]}"')
    out: dict[str, Any] = {}
    for key, raw in value.items():
        if raw is None and keys[key] is list:
            out[key] = None
        elif raw is None:
            continue  # Go leaves a field alone when the JSON says null
        else:
            out[key] = _typed(raw, keys[key], f"{field}.{key}")
    return out


WEBHOOK_TYPES: dict[str, dict[str, type]] = {
    "activities_webhook": {"enable_activities_webhook": bool, "destination_url": str},
    "host_status_webhook": {
        "enable_host_status_webhook": bool,
        "destination_url": str,
        "host_percentage": float,
        "days_count": int,
    },
    "failing_policies_webhook": {
        "enable_failing_policies_webhook": bool,
        "destination_url": str,
        "policy_ids": list,
        "host_batch_size": int,
    },
    "vulnerabilities_webhook": {"enable_vulnerabilities_webhook": bool, "destination_url": str, "host_batch_size": int},
}


def _merge_webhooks(current: dict[str, Any], change: Any, keys: tuple[str, ...], prefix: str) -> dict[str, Any]:
    if not isinstance(change, dict):
        raise BadInput(f"json: cannot unmarshal into Go struct field {prefix}: expected an object")
    allowed = set(keys) | ({"interval"} if prefix == "webhook_settings" else set())
    unknown = sorted(set(change) - allowed)
    if unknown:
        raise BadInput(f'json: unknown field "{unknown[0]}"')
    merged = copy.deepcopy(current)
    for key, value in change.items():
        if key == "interval":
            if value is None:
                continue
            text = _typed(value, str, "webhook_settings.interval") if not isinstance(value, int | float) else None
            if text is None:  # Fleet also takes a number of nanoseconds
                text = f"{float(value) / 1e9}s"
            if not GO_DURATION.match(text) or interval_seconds(text) <= 0:
                raise InvalidInput("webhook_settings.interval", f"invalid duration {value!r}")
            merged["interval"] = _go_duration(interval_seconds(text))
            continue
        if value is None:
            continue
        fields = _object(value, f"{prefix}.{key}", WEBHOOK_TYPES[key])
        if "policy_ids" in fields and fields["policy_ids"] is not None:
            ids = fields["policy_ids"]
            if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids):
                raise BadInput(f"json: cannot unmarshal into Go struct field {prefix}.{key}.policy_ids of type []uint")
        merged[key] = {**merged.get(key, {}), **fields}
    return merged


def _go_duration(seconds: float) -> str:
    """Go's time.Duration.String() for whole seconds: 86400 -> "24h0m0s"."""
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def _url_error(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "webhook_url must be https or http, and have a host"
    return None


def _check_webhooks(merged: dict[str, Any], intgs: dict[str, list[dict[str, Any]]], team: bool) -> None:
    """Fleet's Validate* functions for enabled webhooks, in their names and words."""
    hook = merged.get("activities_webhook")
    if hook and hook.get("enable_activities_webhook"):
        name = "webhook_settings.activities_webhook.destination_url"
        if not hook.get("destination_url"):
            raise InvalidInput(name, "destination_url is required to enable the activities webhook")
        if error := _url_error(hook["destination_url"]):
            raise InvalidInput(name, error)
    hook = merged["host_status_webhook"]
    if hook.get("enable_host_status_webhook"):
        if not hook.get("destination_url"):
            raise InvalidInput("destination_url", "destination_url is required to enable the host status webhook")
        if (hook.get("days_count") or 0) <= 0:
            raise InvalidInput("days_count", "days_count must be > 0 to enable the host status webhook")
        if (hook.get("host_percentage") or 0) <= 0:
            raise InvalidInput("host_percentage", "host_percentage must be > 0 to enable the host status webhook")
    _check_exclusive(merged["failing_policies_webhook"], "enable_failing_policies_webhook", "enable_failing_policies",
                     intgs, "failing policies")  # fmt: skip
    if not team:
        _check_exclusive(merged["vulnerabilities_webhook"], "enable_vulnerabilities_webhook",
                         "enable_software_vulnerabilities", intgs, "vulnerabilities")  # fmt: skip
    for key in ("host_status_webhook", "failing_policies_webhook", "vulnerabilities_webhook"):
        hook = merged.get(key) or {}
        url = hook.get("destination_url") or ""
        if url and (error := _url_error(url)):
            raise InvalidInput(f"webhook_settings.{key}.destination_url", error)
        if (hook.get("host_batch_size") or 0) < 0:
            raise InvalidInput(f"webhook_settings.{key}.host_batch_size", "host_batch_size must be >= 0")


def _check_exclusive(hook: dict[str, Any], hook_flag: str, intg_flag: str, intgs: dict, what: str) -> None:
    enabled = bool(hook.get(hook_flag))
    jira = sum(1 for item in intgs["jira"] if item.get(intg_flag))
    zendesk = sum(1 for item in intgs["zendesk"] if item.get(intg_flag))
    name = "failing policies" if what == "failing policies" else "vulnerabilities"
    if enabled and (jira or zendesk):
        raise InvalidInput(name, f"cannot enable both webhook {what} and integration automations")
    if jira and zendesk:
        both = "jira and zendesk" if what == "failing policies" else "jira integration and zendesk"
        raise InvalidInput(name, f"cannot enable both {both} automations")
    if jira > 1:
        raise InvalidInput(name, "cannot enable more than one jira integration")
    if zendesk > 1:
        raise InvalidInput(name, "cannot enable more than one zendesk integration")
    if enabled and not hook.get("destination_url"):
        raise InvalidInput("destination_url", f"destination_url is required to enable the {what} webhook")


def _check_inert(change: dict[str, Any]) -> None:
    for key in INERT_INTEGRATION_KEYS:
        if _switches_on(change.get(key)):
            raise InvalidInput(f"integrations.{key}", f"{key} is not supported by Fleetsite; leave it out or empty")


def _switches_on(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_switches_on(item) for item in value.values())
    if isinstance(value, list):
        return any(_switches_on(item) for item in value)
    return bool(value)


def _jira_key(item: dict[str, Any]) -> tuple[str, str]:
    return (item.get("url", ""), item.get("project_key", ""))


def _zendesk_key(item: dict[str, Any]) -> tuple[str, int]:
    return (item.get("url", ""), item.get("group_id", 0))


def _integration_list(value: Any, field: str, keys: dict[str, type]) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise BadInput(f"json: cannot unmarshal into Go struct field {field}: expected an array")
    return [_object(item, field, keys) for item in value]


def _merge_global_integrations(current: dict[str, list], change: Any) -> tuple[dict[str, list], list[tuple]]:
    """The integrations after `change`, and those that are new or changed (to be tried before saving)."""
    if not isinstance(change, dict):
        raise BadInput("json: cannot unmarshal into Go struct field integrations: expected an object")
    unknown = sorted(set(change) - {"jira", "zendesk", *INERT_INTEGRATION_KEYS})
    if unknown:
        raise BadInput(f'json: unknown field "{unknown[0]}"')
    _check_inert(change)
    merged = {"jira": list(current["jira"]), "zendesk": list(current["zendesk"])}
    to_try: list[tuple] = []
    for kind, keys, unique, what in (
        ("jira", JIRA_KEYS, _jira_key, "Jira integration for url {0} and project key {1}"),
        ("zendesk", ZENDESK_KEYS, _zendesk_key, "Zendesk integration for url {0} and group id {1}"),
    ):
        if change.get(kind) is None:
            continue
        old = {unique(item): item for item in current[kind]}
        new_list: list[dict[str, Any]] = []
        seen: set[tuple] = set()
        for index, item in enumerate(_integration_list(change[kind], f"integrations.{kind}", keys)):
            item = {key: item.get(key, "" if typ is str else (0 if typ is int else False)) for key, typ in keys.items()}
            item["url"] = item["url"].strip().rstrip("/")
            key = unique(item)
            if key in seen:
                raise InvalidInput(f"integrations.{kind}", "duplicate " + what.format(*key))
            seen.add(key)
            if _url_error(item["url"]):
                raise InvalidInput(f"integrations.{kind}.url", f"{kind} integration at index {index}: invalid url")
            previous = old.get(key)
            if previous is not None and item["api_token"] in ("", MASK):
                item["api_token"] = previous.get("api_token", "")
            if previous != item:
                to_try.append((kind, index, item))
            new_list.append(item)
        merged[kind] = new_list
    return merged, to_try


def _merge_team_integrations(
    current: dict[str, list], change: Any, global_intgs: dict[str, list]
) -> dict[str, list[dict[str, Any]]]:
    if not isinstance(change, dict):
        raise BadInput("json: cannot unmarshal into Go struct field integrations: expected an object")
    unknown = sorted(set(change) - {"jira", "zendesk", *INERT_INTEGRATION_KEYS})
    if unknown:
        raise BadInput(f'json: unknown field "{unknown[0]}"')
    _check_inert(change)
    merged = {"jira": list(current["jira"]), "zendesk": list(current["zendesk"])}
    known_jira = {_jira_key(item) for item in global_intgs["jira"]}
    known_zendesk = {_zendesk_key(item) for item in global_intgs["zendesk"]}
    for kind, keys, unique, known, what in (
        ("jira", TEAM_JIRA_KEYS, _jira_key, known_jira, "Jira integration for url {0} and project key {1}"),
        ("zendesk", TEAM_ZENDESK_KEYS, _zendesk_key, known_zendesk, "Zendesk integration for url {0} and group ID {1}"),
    ):
        if change.get(kind) is None:
            continue
        items, seen = [], set()
        for item in _integration_list(change[kind], f"integrations.{kind}", keys):
            item = {key: item.get(key, "" if typ is str else (0 if typ is int else False)) for key, typ in keys.items()}
            item["url"] = item["url"].strip().rstrip("/")
            key = unique(item)
            if key in seen:
                raise InvalidInput(f"integrations.{kind}", "duplicate " + what.format(*key))
            if key not in known:
                raise InvalidInput(f"integrations.{kind}", "unknown " + what.format(*key))
            seen.add(key)
            items.append(item)
        merged[kind] = items
    return merged


# --- Changing ----------------------------------------------------------------------------------


def apply_global(changes: dict[str, Any], changed: list[str]) -> None:
    """Validate and store `webhook_settings` / `integrations` of a `PATCH /config`; names what changed in `changed`.

    Raises InvalidInput (422) or BadInput (400). Runs inside the caller's transaction.
    """
    if "webhook_settings" not in changes and "integrations" not in changes:
        return
    from webhooks import tickets

    row = AutomationSettings.objects.select_for_update().filter(pk=1).first() or AutomationSettings(pk=1)
    hooks = webhook_settings(row)
    stored_intgs = intgs = integrations(row)  # unsealed once: each read opens every token
    to_try: list[tuple] = []
    if changes.get("webhook_settings") is not None:
        hooks = _merge_webhooks(hooks, changes["webhook_settings"], tuple(WEBHOOK_TYPES), "webhook_settings")
    if changes.get("integrations") is not None:
        intgs, to_try = _merge_global_integrations(intgs, changes["integrations"])
    _check_webhooks(hooks, intgs, team=False)
    for kind, index, item in to_try:
        error = tickets.try_connection(kind, item)
        if error:
            label = "Jira" if kind == "jira" else "Zendesk"
            raise InvalidInput(f"integrations.{kind}", f"{label} integration at index {index}: {error}")
    stored_hooks = {key: value for key, value in hooks.items() if value != WEBHOOK_DEFAULTS.get(key)}
    if stored_hooks != (row.webhook_settings or {}):
        changed.extend(
            f"webhook_settings.{key}"
            for key in sorted(set(stored_hooks) | set(row.webhook_settings or {}))
            if stored_hooks.get(key) != (row.webhook_settings or {}).get(key)
        )
        row.webhook_settings = stored_hooks
    if intgs != stored_intgs:
        changed.extend(f"integrations.{kind}" for kind in ("jira", "zendesk") if intgs[kind] != stored_intgs[kind])
        row.integrations = sealed_integrations(intgs)
    if (
        row.pk is None
        or row._state.adding
        or any(name.startswith(("webhook_settings.", "integrations.")) for name in changed)
    ):
        row.save()


def apply_team(spec_settings: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A team's settings after a `PATCH /teams/{id}` naming `webhook_settings` / `integrations` (checked)."""
    out = dict(spec_settings or {})
    hooks = team_webhook_settings(out)
    intgs = team_integrations(out)
    if changes.get("webhook_settings") is not None:
        hooks = _merge_webhooks(hooks, changes["webhook_settings"], TEAM_WEBHOOK_KEYS, "webhook_settings")
    if changes.get("integrations") is not None:
        intgs = _merge_team_integrations(intgs, changes["integrations"], integrations())
    _check_webhooks(hooks, {"jira": intgs["jira"], "zendesk": intgs["zendesk"]}, team=True)
    if "webhook_settings" in changes:
        out["webhook_settings"] = hooks
    if "integrations" in changes:
        out["integrations"] = {"jira": intgs["jira"], "zendesk": intgs["zendesk"]}
    return out
