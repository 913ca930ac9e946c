"""Saved queries for REST and UI alike: who sees and changes which, validation, and changes with activities.

Global queries are readable by every user with a role anywhere (team users inherit them, as in
Fleet); team queries only by that team's users and global users. Writes need admin or maintainer
globally or on the query's team. Ad-hoc live queries (`saved=False`) are never shown here.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from rest_framework import serializers

from accounts import permissions
from accounts.models import Team, User
from activities.record import record
from fleetsite.api.errors import FleetAPIError, conflict, forbidden, not_found
from fleetsite.api.fields import ObjectIdField
from hosts.api.serializers import rfc3339
from queries.choices import Logging
from queries.filtersets import PLATFORMS
from queries.models import Query, QueryReportRow
from queries.sql import SQLError, validate_read_only

# Fleet's activity types (server/fleet/activities.go).
CREATED_SAVED_QUERY = "created_saved_query"
EDITED_SAVED_QUERY = "edited_saved_query"
DELETED_SAVED_QUERY = "deleted_saved_query"
DELETED_MULTIPLE_SAVED_QUERY = "deleted_multiple_saved_query"

# fleet-protocol §4.4 texts.
EMPTY_NAME = "query name cannot be empty"
EMPTY_SQL = "query's SQL query cannot be empty"
BAD_LOGGING = "invalid logging value, must be one of 'snapshot', 'differential', 'differential_ignore_removals'"
BAD_PLATFORM = "invalid platform value, must be one or more of 'darwin', 'windows', 'linux', 'chrome', or empty"
# osquery refuses schedule intervals above a week.
MAX_INTERVAL = 604_800
MAX_SQL_LENGTH = 100_000
MAX_REPORT_ROWS = 1_000_000
_VERSION = re.compile(r"^\d+(\.\d+){0,3}$")


class QuerySerializer(serializers.Serializer):
    """Fleet's query payload (§4.4); `partial=True` for PATCH, where every field is optional."""

    name = serializers.CharField(
        max_length=255, allow_blank=True, error_messages={"required": EMPTY_NAME, "null": EMPTY_NAME}
    )
    description = serializers.CharField(allow_blank=True, required=False, default="", max_length=10_000)
    query = serializers.CharField(
        allow_blank=True,
        trim_whitespace=False,
        max_length=MAX_SQL_LENGTH,
        error_messages={"required": EMPTY_SQL, "null": EMPTY_SQL},
    )
    team_id = ObjectIdField(required=False, allow_null=True, min_value=0)
    interval = serializers.IntegerField(required=False, default=0, min_value=0, max_value=MAX_INTERVAL)
    platform = serializers.CharField(required=False, default="", allow_blank=True, max_length=255)
    min_osquery_version = serializers.CharField(required=False, default="", allow_blank=True, max_length=64)
    automations_enabled = serializers.BooleanField(required=False, default=False)
    logging = serializers.ChoiceField(
        choices=Logging.values,
        required=False,
        default=Logging.SNAPSHOT,
        error_messages={"invalid_choice": BAD_LOGGING, "null": BAD_LOGGING},
    )
    observer_can_run = serializers.BooleanField(required=False, default=False)
    discard_data = serializers.BooleanField(required=False, default=False)
    # Beyond Fleet: report retention per query.
    report_max_rows = serializers.IntegerField(required=False, default=1000, min_value=1, max_value=MAX_REPORT_ROWS)
    report_max_age_days = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError(EMPTY_NAME)
        return value.strip()

    def validate_query(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError(EMPTY_SQL)
        try:
            validate_read_only(value)
        except SQLError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return value

    def validate_platform(self, value: str) -> str:
        platforms = [p.strip().lower() for p in value.split(",") if p.strip()]
        if any(p not in PLATFORMS for p in platforms):
            raise serializers.ValidationError(BAD_PLATFORM)
        return ",".join(dict.fromkeys(platforms))

    def validate_min_osquery_version(self, value: str) -> str:
        value = value.strip()
        if value and not _VERSION.match(value):
            raise serializers.ValidationError("invalid min_osquery_version: expected a version such as 5.9.1")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # 0 means global, as no team (Fleet 4.8's `fleet_id` arrives as `team_id`: fleetsite/api/aliases.py).
        if "team_id" in attrs:
            attrs["team_id"] = attrs["team_id"] or None
        return attrs


def readable_queries(user: User) -> QuerySet:
    """Saved queries `user` may see: every global one, and those of the teams they see."""
    queryset = Query.objects.filter(saved=True).select_related("author", "team")
    teams = permissions.visible_team_ids(user)
    if teams is None:
        return queryset
    if not teams:
        return queryset.none()
    return queryset.filter(Q(team__isnull=True) | Q(team_id__in=teams))


def get_readable(user: User, query_id: int) -> Query:
    """The query, or Fleet's 404 whether it is missing or hidden (existence must not leak)."""
    query = readable_queries(user).filter(pk=query_id).first()
    if query is None:
        raise not_found(f"Query {query_id} was not found in the datastore")
    return query


def may_write(user: User, team_id: int | None) -> bool:
    return permissions.can(user, permissions.Action.WRITE, permissions.Kind.QUERY, team_id)


def visible_team(user: User, team_id: int | None) -> Team | None:
    """The team a request names, 404 when it does not exist or the user cannot see it."""
    if team_id is None:
        return None
    team = Team.objects.filter(pk=team_id).first()
    if team is None or not permissions.can_read_team(user, team.pk):
        raise not_found(f"Team {team_id} was not found in the datastore")
    return team


def listed(user: User, team_id: int | None, merge_inherited: bool) -> QuerySet:
    """§4.4 list scope: global queries, or a team's (plus the global ones with `merge_inherited`)."""
    team = visible_team(user, team_id)
    queryset = readable_queries(user)
    if team is None:
        return queryset.filter(team__isnull=True)
    scope = Q(team=team) | Q(team__isnull=True) if merge_inherited else Q(team=team)
    return queryset.filter(scope)


def _details(query: Query, **extra: Any) -> dict[str, Any]:
    return {
        **extra,
        "query_name": query.name,
        "team_id": query.team_id,
        "team_name": query.team.name if query.team_id else None,
    }


def _name_taken(team_id: int | None, name: str, exclude: int | None = None) -> bool:
    return Query.objects.filter(team_key=team_id or 0, name=name).exclude(pk=exclude).exists()


def _conflict(name: str) -> FleetAPIError:
    return conflict(f'a query named "{name}" already exists in this team')


def create(user: User, data: dict[str, Any]) -> Query:
    """Create a saved query after the permission and unique-name checks; records the activity."""
    team = visible_team(user, data.get("team_id"))
    if not may_write(user, team.pk if team else None):
        raise forbidden()
    fields = {key: value for key, value in data.items() if key != "team_id"}
    if _name_taken(team.pk if team else None, fields["name"]):
        raise _conflict(fields["name"])
    try:
        with transaction.atomic():
            query = Query.objects.create(**fields, team=team, author=user, saved=True)
            record(user, CREATED_SAVED_QUERY, _details(query, query_id=query.pk), team=team)
    except IntegrityError as exc:  # a concurrent create with the same name
        raise _conflict(fields["name"]) from exc
    return query


def update(user: User, query: Query, data: dict[str, Any]) -> Query:
    """Apply a PATCH; a new SQL or discarding data clears the report, whose rows no longer fit (Fleet does too)."""
    if not may_write(user, query.team_id):
        raise forbidden()
    data = {key: value for key, value in data.items() if key != "team_id"}  # the team is fixed at creation
    if "name" in data and data["name"] != query.name and _name_taken(query.team_id, data["name"], query.pk):
        raise _conflict(data["name"])
    clear_report = ("query" in data and data["query"] != query.query) or (
        data.get("discard_data") and not query.discard_data
    )
    for key, value in data.items():
        setattr(query, key, value)
    try:
        with transaction.atomic():
            query.save()
            if clear_report:
                QueryReportRow.objects.filter(query=query).delete()
            record(user, EDITED_SAVED_QUERY, _details(query, query_id=query.pk), team=query.team)
    except IntegrityError as exc:
        raise _conflict(query.name) from exc
    return query


def delete(user: User, queries: list[Query]) -> int:
    """Delete queries the user may change (403 before anything is deleted otherwise); one activity."""
    if any(not may_write(user, query.team_id) for query in queries):
        raise forbidden()
    if not queries:
        return 0
    with transaction.atomic():
        deleted = Query.objects.filter(pk__in=[query.pk for query in queries]).delete()[1].get("queries.Query", 0)
        teams = {query.team_id for query in queries}
        team = queries[0].team if len(teams) == 1 else None
        if len(queries) == 1:
            record(user, DELETED_SAVED_QUERY, _details(queries[0]), team=team)
        else:
            details = {
                "query_ids": [query.pk for query in queries],
                "team_id": team.pk if team else None,
                "team_name": team.name if team else None,
            }
            record(user, DELETED_MULTIPLE_SAVED_QUERY, details, team=team)
    return deleted


def query_json(query: Query) -> dict[str, Any]:
    """The Query object of fleet-protocol §4.4 (stats are not collected: zeros), plus retention settings."""
    author = query.author
    return {
        "id": query.pk,
        "team_id": query.team_id,
        "interval": query.interval,
        "platform": query.platform,
        "min_osquery_version": query.min_osquery_version,
        "automations_enabled": query.automations_enabled,
        "logging": query.logging,
        "name": query.name,
        "description": query.description,
        "query": query.query,
        "saved": query.saved,
        "observer_can_run": query.observer_can_run,
        "author_id": query.author_id,
        "author_name": author.name if author else "",
        "author_email": author.email if author else "",
        "packs": [],
        "stats": {
            "system_time_p50": 0,
            "system_time_p95": 0,
            "user_time_p50": 0,
            "user_time_p95": 0,
            "total_executions": 0,
        },
        "discard_data": query.discard_data,
        "report_max_rows": query.report_max_rows,
        "report_max_age_days": query.report_max_age_days,
        "created_at": rfc3339(query.created_at),
        "updated_at": rfc3339(query.updated_at),
    }
