"""Team specs (`POST /spec/teams`, also `/spec/fleets`): what `fleetctl apply` and `fleetctl gitops` send for teams.

Teams are named, not numbered: a spec for an unknown name creates the team (with a fresh enroll
secret unless the spec lists its own). A key the spec leaves out keeps its stored value; a key it
sends replaces it. `dry_run` checks everything and writes nothing, answering 0 as the id of a team
it would create (fleetctl prints "would've added … to new fleet"). The batch is all or nothing,
and a spec that matches what is stored writes no row and records no activity.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from django.db import transaction

from accounts import permissions
from accounts.models import Team, User
from accounts.services import InvalidInput
from activities import types
from activities.record import record
from fleetsite.api.errors import FleetAPIError, bad_request, forbidden, validation_failed
from fleetsite.appconfig import _checked_options

APPLIED_SPEC_TEAM = "applied_spec_team"
# Fleet's reserved names: the "team" of hosts without one, and the all-teams view.
RESERVED_NAMES = frozenset({"no team", "all teams", "unassigned", "all fleets"})
# Keys Fleet's TeamSpec has that Fleetsite stores as given, for the next `get` (no behaviour of their own yet).
STORED_KEYS = (
    "features",
    "host_expiry_settings",
    "webhook_settings",
    "integrations",
    "mdm",
    "scripts",
    "software",
    "gitops_filename",
)
KNOWN_KEYS = frozenset({"name", "agent_options", "secrets", *STORED_KEYS})
MAX_SPECS = 1_000


def _unknown_field(key: str) -> FleetAPIError:
    # Fleet decodes team specs strictly; `force` lets unknown keys through.
    return bad_request(f'json: unknown field "{key}"')


def _checked_spec(raw: Any, force: bool) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise bad_request("each team spec must be a JSON object")
    unknown = sorted(set(raw) - KNOWN_KEYS)
    if unknown and not force:
        raise _unknown_field(unknown[0])
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise validation_failed("name", "fleet name may not be empty")
    name = unicodedata.normalize("NFC", name.strip())
    if len(name) > 255:
        raise validation_failed("name", "fleet name may not exceed 255 characters")
    if name.lower() in RESERVED_NAMES:
        raise validation_failed("name", f"{name!r} is a reserved name")
    spec = {key: raw[key] for key in KNOWN_KEYS if key in raw}
    spec["name"] = name
    for key in ("features", "host_expiry_settings", "webhook_settings", "integrations", "mdm", "software"):
        if spec.get(key) is not None and not isinstance(spec[key], dict):
            raise validation_failed(key, f"{key} must be an object")
    if spec.get("scripts") is not None and not (
        isinstance(spec["scripts"], list) and all(isinstance(item, str) for item in spec["scripts"])
    ):
        raise validation_failed("scripts", "scripts must be a list of paths")
    if "agent_options" in spec and spec["agent_options"] is not None:
        try:
            spec["agent_options"] = _checked_options(spec["agent_options"], force) or None
        except InvalidInput as exc:
            raise FleetAPIError(400, "Bad request", exc.reason, name=exc.field) from exc
    if spec.get("secrets") is not None:
        spec["secrets"] = _secret_values(spec["secrets"])
    return spec


def _secret_values(secrets: Any) -> list[str]:
    if not isinstance(secrets, list) or not all(isinstance(item, dict) for item in secrets):
        raise validation_failed("secrets", 'secrets must be a list of {"secret": …} objects')
    values = [item.get("secret") for item in secrets]
    if not all(isinstance(value, str) for value in values):
        raise validation_failed("secrets", "each enroll secret must be a string")
    return values


def _check_secrets(team: Team | None, values: list[str]) -> None:
    from enrollment import secrets as enroll_secrets

    try:
        if team is None:  # a team this batch creates: every existing secret belongs to someone else
            enroll_secrets.validate(values)
            if any(enroll_secrets.find(value) for value in values):
                raise enroll_secrets.SecretError("enroll secret is already in use by another team or globally")
        else:
            enroll_secrets.validate_for_scope(team, values)
    except enroll_secrets.SecretError as exc:
        raise validation_failed("secrets", str(exc)) from exc


def apply(user: User, raw_specs: Any, dry_run: bool = False, force: bool = False) -> dict[str, int]:
    """Create or update teams by name; returns Fleet's `team_ids_by_name` (0 for teams a dry run would create)."""
    if not permissions.is_global_admin(user):
        raise forbidden()
    if not isinstance(raw_specs, list):
        raise validation_failed("specs", "specs must be a list")
    if len(raw_specs) > MAX_SPECS:
        raise validation_failed("specs", f"at most {MAX_SPECS} team specs at once")
    specs = [_checked_spec(raw, force) for raw in raw_specs if raw is not None]
    names = [spec["name"].lower() for spec in specs]
    if len(set(names)) != len(names):
        raise validation_failed("name", "fleet names must be unique within the specs")
    teams = {team.name.lower(): team for team in Team.objects.filter(name__in=[s["name"] for s in specs])}
    for spec in specs:
        teams.setdefault(spec["name"].lower(), Team.objects.filter(name__iexact=spec["name"]).first())
    # Secrets must be unique across scopes, also between two specs of this batch.
    listed = [value for spec in specs for value in spec.get("secrets") or []]
    if len(set(listed)) != len(listed):
        raise validation_failed("secrets", "the same enroll secret is listed twice")
    for spec in specs:
        if spec.get("secrets") is not None:
            _check_secrets(teams[spec["name"].lower()], spec["secrets"])
    if dry_run:
        return {spec["name"]: (team.pk if (team := teams[spec["name"].lower()]) else 0) for spec in specs}
    ids: dict[str, int] = {}
    applied: list[dict[str, Any]] = []
    with transaction.atomic():
        for spec in specs:
            team, created, changed = _apply_one(user, spec, teams[spec["name"].lower()])
            ids[spec["name"]] = team.pk
            if changed and not created:
                applied.append({"id": team.pk, "name": team.name})
        if applied:
            record(user, APPLIED_SPEC_TEAM, {"teams": applied})
    return ids


def _apply_one(user: User, spec: dict[str, Any], team: Team | None) -> tuple[Team, bool, bool]:
    """Write one spec; returns (team, created, changed)."""
    from enrollment import secrets as enroll_secrets

    created = team is None
    if created:
        team = Team.objects.create(name=spec["name"])
        record(user, types.CREATED_TEAM, {"team_id": team.pk, "team_name": team.name}, team=team)
        if spec.get("secrets") is None:
            enroll_secrets.add(team)
    changed = False
    if "agent_options" in spec and spec["agent_options"] != team.agent_options:
        team.agent_options = spec["agent_options"]
        changed = True
    settings = dict(team.spec_settings or {})
    for key in STORED_KEYS:
        if key in spec and settings.get(key) != spec[key]:
            settings[key] = spec[key]
            changed = True
    if changed:
        team.spec_settings = settings
        team.save()
    if spec.get("secrets") is not None:
        current = sorted(team.secrets.values_list("secret", flat=True))
        if current != sorted(spec["secrets"]):
            enroll_secrets.replace(team, spec["secrets"])
            changed = True
    return team, created, changed
