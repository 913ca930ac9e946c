"""Query and policy specs (`fleetctl apply`, `fleetctl gitops`, `fleetctl get queries`): objects by name.

A spec is the desired state of the objects it names; objects it does not name are left alone (gitops
deletes those itself, with the batch-delete endpoints). Applying the same specs again changes no row
and records no activity, so a scheduled `fleetctl gitops` run leaves the activity feed quiet.
A batch is all or nothing: every spec is checked before the first write, and the writes share one
transaction.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from rest_framework import serializers

from accounts import permissions
from accounts.models import Team, User
from activities.record import record
from fleetsite.api.errors import forbidden, not_found, validation_failed
from queries import saved
from queries.models import Policy, Query, QueryReportRow
from queries.sql import SQLError, validate_read_only

# Fleet's activity types.
APPLIED_SPEC_SAVED_QUERY = "applied_spec_saved_query"
APPLIED_SPEC_POLICY = "applied_spec_policy"
MAX_SPECS = 10_000
# Fleet's names for the hosts without a team; its "No team" policies have no Fleetsite counterpart yet.
NO_TEAM_NAMES = frozenset({"no team", "unassigned"})

# The query fields a spec sets, in Fleet's QuerySpec order.
QUERY_FIELDS = (
    "description",
    "query",
    "interval",
    "observer_can_run",
    "platform",
    "min_osquery_version",
    "automations_enabled",
    "logging",
    "discard_data",
)
POLICY_FIELDS = ("query", "description", "resolution", "platform", "critical", "calendar_events_enabled")


def _team_name_field() -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, allow_null=True, default="", max_length=255)


class QuerySpecSerializer(saved.QuerySerializer):
    """Fleet's QuerySpec: the query payload with its team by name (`team`, or Fleet 4.8's `fleet`)."""

    team_id = None  # a spec names its team
    report_max_rows = None
    report_max_age_days = None
    team = _team_name_field()
    fleet = _team_name_field()


class QuerySpecsSerializer(serializers.Serializer):
    specs = QuerySpecSerializer(many=True, allow_empty=True, max_length=MAX_SPECS)


class PolicySpecSerializer(serializers.Serializer):
    """Fleet's PolicySpec; automations Fleetsite does not have (software, scripts) are accepted and ignored."""

    name = serializers.CharField(max_length=255)
    query = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=saved.MAX_SQL_LENGTH)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)
    resolution = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)
    team = _team_name_field()
    fleet = _team_name_field()
    platform = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    critical = serializers.BooleanField(required=False, default=False)
    calendar_events_enabled = serializers.BooleanField(required=False, default=False)

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("policy name cannot be empty")
        return value.strip()

    def validate_query(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("policy query cannot be empty")
        try:
            validate_read_only(value)
        except SQLError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return value

    def validate_platform(self, value: str) -> str:
        parts = [part.strip() for part in value.split(",") if part.strip()]
        unknown = set(parts) - {"darwin", "windows", "linux", "chrome"}
        if unknown:
            raise serializers.ValidationError(f"unknown platform(s): {', '.join(sorted(unknown))}")
        return ",".join(parts)


class PolicySpecsSerializer(serializers.Serializer):
    specs = PolicySpecSerializer(many=True, allow_empty=True, max_length=MAX_SPECS)


def _team_name(spec: dict[str, Any]) -> str:
    return (spec.get("team") or spec.get("fleet") or "").strip()


def _teams_by_name(user: User, specs: list[dict[str, Any]]) -> dict[str, Team | None]:
    """Each spec's team, 404 when a named team does not exist or the user cannot see it (as Fleet's TeamByName)."""
    names = {_team_name(spec) for spec in specs} - {""}
    unassigned = sorted(name for name in names if name.lower() in NO_TEAM_NAMES)
    if unassigned:
        raise validation_failed(
            "team", f"{unassigned[0]!r}: Fleetsite keeps no queries or policies for hosts without a team"
        )
    found = {team.name: team for team in Team.objects.filter(name__in=names)}
    teams: dict[str, Team | None] = {"": None}
    for name in sorted(names):
        team = found.get(name)
        if team is None or not permissions.can_read_team(user, team.pk):
            raise not_found(f"Team {name} was not found in the datastore")
        teams[name] = team
    return teams


def _unique(specs: list[dict[str, Any]], teams: dict[str, Team | None], kind: str) -> None:
    keys = [(_team_name(spec), spec["name"]) for spec in specs]
    if len(set(keys)) != len(keys):
        raise validation_failed("specs", f"{kind} names must be unique within a team in the specs")


def _changed(row: Any, values: dict[str, Any]) -> bool:
    return any(getattr(row, field) != value for field, value in values.items())


# --- queries ---------------------------------------------------------------------------------------------------


def apply_queries(user: User, specs: list[dict[str, Any]]) -> int:
    """Create or update saved queries by (team, name); returns how many rows changed."""
    teams = _teams_by_name(user, specs)
    _unique(specs, teams, "query")
    for spec in specs:
        team = teams[_team_name(spec)]
        if not saved.may_write(user, team.pk if team else None):
            raise forbidden()
    existing = {
        (query.team_key, query.name): query
        for query in Query.objects.filter(saved=True, name__in=[spec["name"] for spec in specs])
    }
    changed = 0
    with transaction.atomic():
        for spec in specs:
            team = teams[_team_name(spec)]
            values = {field: spec[field] for field in QUERY_FIELDS}
            query = existing.get((team.pk if team else 0, spec["name"]))
            if query is None:
                Query.objects.create(name=spec["name"], team=team, author=user, saved=True, **values)
            elif _changed(query, values):
                # Fleet discards a report whose rows no longer fit the query.
                clear = values["query"] != query.query or (values["discard_data"] and not query.discard_data)
                for field, value in values.items():
                    setattr(query, field, value)
                query.save()
                if clear:
                    QueryReportRow.objects.filter(query=query).delete()
            else:
                continue
            changed += 1
        if changed:
            record(user, APPLIED_SPEC_SAVED_QUERY, {"specs": [query_spec_input(spec) for spec in specs]})
    return changed


def query_spec_input(spec: dict[str, Any]) -> dict[str, Any]:
    """A validated spec as Fleet writes it in the activity (team by name)."""
    return {"name": spec["name"], "team": _team_name(spec), **{field: spec[field] for field in QUERY_FIELDS}}


def query_spec_json(query: Query) -> dict[str, Any]:
    """Fleet's QuerySpec for a saved query, as `fleetctl get queries` prints it."""
    return {
        "name": query.name,
        "description": query.description,
        "query": query.query,
        "team": query.team.name if query.team_id else "",
        "interval": query.interval,
        "observer_can_run": query.observer_can_run,
        "platform": query.platform,
        "min_osquery_version": query.min_osquery_version,
        "automations_enabled": query.automations_enabled,
        "logging": query.logging,
        "discard_data": query.discard_data,
    }


def get_query_specs(user: User, team_id: int | None) -> list[dict[str, Any]]:
    """The specs of a team's queries, or of the global ones (Fleet lists one scope, not the inherited ones)."""
    return [query_spec_json(query) for query in saved.listed(user, team_id, merge_inherited=False)]


def get_query_spec(user: User, name: str, team_id: int | None) -> dict[str, Any]:
    query = saved.listed(user, team_id, merge_inherited=False).filter(name=name).first()
    if query is None:
        raise not_found(f"Query {name} was not found in the datastore")
    return query_spec_json(query)


# --- policies --------------------------------------------------------------------------------------------------


def apply_policies(user: User, specs: list[dict[str, Any]]) -> int:
    """Create or update policies by (team, name); returns how many rows changed."""
    teams = _teams_by_name(user, specs)
    _unique(specs, teams, "policy")
    for spec in specs:
        team = teams[_team_name(spec)]
        if not permissions.can(user, permissions.Action.WRITE, permissions.Kind.POLICY, team.pk if team else None):
            raise forbidden()
    existing = {
        (policy.team_key, policy.name): policy
        for policy in Policy.objects.filter(name__in=[spec["name"] for spec in specs])
    }
    changed = 0
    with transaction.atomic():
        for spec in specs:
            team = teams[_team_name(spec)]
            values = {field: spec[field] for field in POLICY_FIELDS}
            policy = existing.get((team.pk if team else 0, spec["name"]))
            if policy is None:
                Policy.objects.create(name=spec["name"], team=team, author=user, **values)
            elif _changed(policy, values):
                for field, value in values.items():
                    setattr(policy, field, value)
                policy.save()
            else:
                continue
            changed += 1
        if changed:
            details = {"policies": [{"name": spec["name"], "team": _team_name(spec), "query": spec["query"]}
                                    for spec in specs]}  # fmt: skip
            record(user, APPLIED_SPEC_POLICY, details)
    return changed
