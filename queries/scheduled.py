"""Fleet's global and team schedule endpoints, answered over saved queries as Fleet 4.x does.

A "scheduled query" there is a saved query with an interval: the listing shows the scope's
scheduled queries, scheduling copies a global query into the scope ("Copy of <name> (<unix time>)")
with automations on, and modifying or deleting addresses the query by id within the scope (any
other scope's query is a 404). Permissions, name checks and activities are queries.saved's.
"""

from __future__ import annotations

import time
from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers

from accounts.models import User
from fleetsite.api.errors import bad_request, forbidden, not_found
from fleetsite.api.fields import ObjectIdField
from hosts.api.serializers import rfc3339
from queries import saved, schedule
from queries.choices import Logging
from queries.models import Query
from queries.packs import NO_STATS


class ScheduleSerializer(serializers.Serializer):
    """Fleet's ScheduledQueryPayload as the schedule endpoints read it (pack options have no query field)."""

    query_id = ObjectIdField(required=False, allow_null=True)
    interval = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=saved.MAX_INTERVAL)
    snapshot = serializers.BooleanField(required=False, allow_null=True)
    removed = serializers.BooleanField(required=False, allow_null=True)
    platform = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    version = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=64)
    shard = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=100)
    denylist = serializers.BooleanField(required=False, allow_null=True)


def _logging(snapshot: bool | None, removed: bool | None) -> str | None:
    """Fleet's mapping: both flags are needed to say anything about the logging type."""
    if snapshot is None or removed is None:
        return None
    if snapshot:
        return Logging.SNAPSHOT
    return Logging.DIFFERENTIAL if removed else Logging.DIFFERENTIAL_IGNORE_REMOVALS


def listed(user: User, team_id: int | None) -> QuerySet:
    """The scope's scheduled queries (404 for a team the user cannot see)."""
    return saved.listed(user, team_id, merge_inherited=False).filter(schedule.is_scheduled())


def in_scope(user: User, query_id: int, team_id: int | None) -> Query:
    """The query if it belongs to the scope, else the same 404 as a missing one (nothing leaks)."""
    saved.visible_team(user, team_id)
    query = saved.readable_queries(user).filter(pk=query_id, team_key=team_id or 0).first()
    if query is None:
        raise not_found(f"Report {query_id} was not found in the datastore")
    return query


def _validated_query_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Platform and version checked as a saved query's are (fleet-protocol §4.4 texts)."""
    serializer = saved.QuerySerializer(data=data, partial=True)
    if not serializer.is_valid():
        raise serializers.ValidationError(serializer.errors)
    return {key: value for key, value in serializer.validated_data.items() if key in data}


def _query_changes(data: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if data.get("interval") is not None:
        changes["interval"] = data["interval"]
    if data.get("platform") is not None:
        changes["platform"] = data["platform"]
    if data.get("version") is not None:
        changes["min_osquery_version"] = data["version"]
    logging = _logging(data.get("snapshot"), data.get("removed"))
    if logging is not None:
        changes["logging"] = logging
    return _validated_query_fields(changes)


def add(user: User, team_id: int | None, data: dict[str, Any]) -> Query:
    """Schedule a copy of a global query in the scope (Fleet: only a global query may be the source)."""
    team = saved.visible_team(user, team_id)
    if not saved.may_write(user, team.pk if team else None):
        raise forbidden()
    source = saved.readable_queries(user).filter(pk=data.get("query_id") or 0).first()
    if source is None:
        raise not_found(f"Report {data.get('query_id')} was not found in the datastore")
    if source.team_id is not None:
        raise bad_request("cannot create a schedule from a team query")
    fields = {
        "name": f"Copy of {source.name} ({int(time.time())})"[:255],
        "description": source.description,
        "query": source.query,
        "observer_can_run": source.observer_can_run,
        "team_id": team.pk if team else None,
        "interval": data.get("interval") or 0,
        "automations_enabled": True,
        "logging": _logging(data.get("snapshot"), data.get("removed")) or Logging.SNAPSHOT,
    }
    fields.update(_query_changes({key: data.get(key) for key in ("platform", "version")}))
    return saved.create(user, fields)


def modify(user: User, query: Query, data: dict[str, Any]) -> Query:
    return saved.update(user, query, _query_changes(data))


def scheduled_json(query: Query) -> dict[str, Any]:
    """Fleet's ScheduledQueryFromQuery: the query seen as a scheduled query with its own id."""
    logging = query.logging or Logging.SNAPSHOT
    return {
        "created_at": rfc3339(query.created_at),
        "updated_at": rfc3339(query.updated_at),
        "id": query.pk,
        "pack_id": 0,
        "name": query.name,
        "query_id": query.pk,
        "query_name": query.name,
        "query": query.query,
        "description": query.description,
        "interval": query.interval,
        "snapshot": logging == Logging.SNAPSHOT,
        "removed": logging == Logging.DIFFERENTIAL,
        "platform": query.platform,
        "version": query.min_osquery_version,
        "shard": None,
        "denylist": None,
        "stats": NO_STATS,
    }
