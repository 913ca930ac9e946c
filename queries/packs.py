"""Legacy query packs (Fleet's 2017 packs): validation, changes with activities, and their JSON.

A pack schedules saved queries on the hosts it targets: chosen hosts, members of labels, hosts of
teams. Packs reach across teams, so only global admins and maintainers read or change them
(accounts.permissions, Kind.PACK). What the agents are sent is queries.packconfig.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Prefetch, Q, QuerySet
from rest_framework import serializers

from accounts import permissions
from accounts.models import Team, User
from activities.record import record
from fleetsite.api.errors import FleetAPIError, bad_request, conflict, forbidden, not_found, validation_failed
from fleetsite.api.fields import ObjectIdField
from hosts.api.serializers import rfc3339
from hosts.models import Host, Label
from queries.models import Pack, PackQuery, Query
from queries.saved import MAX_INTERVAL

# Fleet's activity types (server/fleet/activities.go).
CREATED_PACK = "created_pack"
EDITED_PACK = "edited_pack"
DELETED_PACK = "deleted_pack"
APPLIED_SPEC_PACK = "applied_spec_pack"

EMPTY_NAME = "pack payload verification: pack name cannot be empty"
BAD_INTERVAL = "invalid scheduled query interval"
# Fleet's own packs, which the scheduled queries form here (queries.schedule): no user pack takes these names.
_SYSTEM_NAME = re.compile(r"^(Global|team-\d+)$")
_MAX_TARGETS = 10_000
_MAX_NAME = 255


def _ids() -> serializers.ListField:
    return serializers.ListField(child=ObjectIdField(), required=False, allow_null=True, max_length=_MAX_TARGETS)


class PackSerializer(serializers.Serializer):
    """Fleet's PackPayload: every field optional; null means "leave as is"."""

    name = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    description = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=10_000)
    platform = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    disabled = serializers.BooleanField(required=False, allow_null=True)
    host_ids = _ids()
    label_ids = _ids()
    team_ids = _ids()


class PackQuerySerializer(serializers.Serializer):
    """Fleet's ScheduledQueryPayload; the interval is checked by the service for Fleet's 400."""

    pack_id = ObjectIdField(required=False, allow_null=True)
    query_id = ObjectIdField(required=False, allow_null=True)
    interval = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2**31)
    snapshot = serializers.BooleanField(required=False, allow_null=True)
    removed = serializers.BooleanField(required=False, allow_null=True)
    platform = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    version = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=64)
    shard = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=100)
    denylist = serializers.BooleanField(required=False, allow_null=True)


def require(user: User, action: permissions.Action) -> None:
    """403 unless a global admin or maintainer (packs have no team to scope them)."""
    if not permissions.can(user, action, permissions.Kind.PACK):
        raise forbidden()


def _with_targets(queryset: QuerySet) -> QuerySet:
    return queryset.annotate(query_count=Count("scheduled", distinct=True)).prefetch_related(
        Prefetch("hosts", Host.objects.only("id")),
        Prefetch("labels", Label.objects.only("id")),
        Prefetch("teams", Team.objects.only("id")),
    )


def listed() -> QuerySet:
    return _with_targets(Pack.objects.all())


def get(pack_id: int) -> Pack:
    pack = _with_targets(Pack.objects.filter(pk=pack_id)).first()
    if pack is None:
        raise not_found(f"Pack {pack_id} was not found in the datastore")
    return pack


def _existing(model: type, ids: list[int], field: str) -> list[int]:
    ids = list(dict.fromkeys(ids))
    found = set(model.objects.filter(pk__in=ids).values_list("pk", flat=True))
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise validation_failed(field, f"{model.__name__} {missing[0]} was not found in the datastore")
    return ids


def is_system_name(name: str) -> bool:
    """Fleet's own "Global" and "team-<id>" packs: the scheduled queries, never a stored pack."""
    return bool(_SYSTEM_NAME.match(name))


def _check_name(name: str, exclude: int | None = None) -> str:
    name = name.strip()
    if not name:
        raise bad_request(EMPTY_NAME)
    if is_system_name(name) or Pack.objects.filter(name=name).exclude(pk=exclude).exists():
        raise _conflict(name)
    return name


def _conflict(name: str) -> FleetAPIError:
    return conflict(f'Pack "{name}" already exists')


def _apply_targets(pack: Pack, data: dict[str, Any]) -> None:
    relations = (("host_ids", "hosts", Host), ("label_ids", "labels", Label), ("team_ids", "teams", Team))
    for field, relation, model in relations:
        if data.get(field) is not None:
            getattr(pack, relation).set(_existing(model, data[field], field))


def _details(pack: Pack) -> dict[str, Any]:
    return {"pack_id": pack.pk, "pack_name": pack.name}


def create(user: User, data: dict[str, Any]) -> Pack:
    """A new pack with its targets; records created_pack."""
    require(user, permissions.Action.WRITE)
    name = _check_name(data.get("name") or "")
    try:
        with transaction.atomic():
            pack = Pack.objects.create(
                name=name,
                description=data.get("description") or "",
                platform=data.get("platform") or "",
                disabled=bool(data.get("disabled")),
            )
            _apply_targets(pack, data)
            record(user, CREATED_PACK, _details(pack))
    except IntegrityError as exc:  # a concurrent create with the same name
        raise _conflict(name) from exc
    return get(pack.pk)


def update(user: User, pack: Pack, data: dict[str, Any]) -> Pack:
    """Fleet's ModifyPack: only the given fields change; records edited_pack."""
    require(user, permissions.Action.WRITE)
    if data.get("name") is not None:
        pack.name = _check_name(data["name"], exclude=pack.pk)
    for field in ("description", "platform", "disabled"):
        if data.get(field) is not None:
            setattr(pack, field, data[field])
    try:
        with transaction.atomic():
            pack.save()
            _apply_targets(pack, data)
            record(user, EDITED_PACK, _details(pack))
    except IntegrityError as exc:
        raise _conflict(pack.name) from exc
    return get(pack.pk)


def delete(user: User, pack: Pack) -> None:
    require(user, permissions.Action.WRITE)
    with transaction.atomic():
        pack.delete()
        record(user, DELETED_PACK, {"pack_name": pack.name})


def targeted_hosts(pack: Pack) -> QuerySet:
    """Hosts the pack reaches: chosen directly, members of its labels, or on its teams."""
    host_ids = [host.pk for host in pack.hosts.all()]
    label_ids = [label.pk for label in pack.labels.all()]
    team_ids = [team.pk for team in pack.teams.all()]
    if not (host_ids or label_ids or team_ids):
        return Host.objects.none()
    return Host.objects.filter(
        Q(pk__in=host_ids) | Q(team_id__in=team_ids) | Q(labelmembership__label_id__in=label_ids)
    ).distinct()


def pack_json(pack: Pack) -> dict[str, Any]:
    """Fleet's PackResponse: the pack, its target ids, how many queries and hosts."""
    return {
        "created_at": rfc3339(pack.created_at),
        "updated_at": rfc3339(pack.updated_at),
        "id": pack.pk,
        "name": pack.name,
        "description": pack.description,
        "platform": pack.platform,
        "disabled": pack.disabled,
        "type": None,
        "label_ids": [label.pk for label in pack.labels.all()],
        "host_ids": [host.pk for host in pack.hosts.all()],
        "team_ids": [team.pk for team in pack.teams.all()],
        "query_count": pack.query_count if hasattr(pack, "query_count") else pack.scheduled.count(),
        "total_hosts_count": targeted_hosts(pack).count(),
    }


# --- queries scheduled in a pack ------------------------------------------------------------------


def scheduled_in(pack: Pack) -> QuerySet:
    return PackQuery.objects.filter(pack=pack).select_related("query")


def get_scheduled(scheduled_id: int) -> PackQuery:
    found = PackQuery.objects.filter(pk=scheduled_id).select_related("query").first()
    if found is None:
        raise not_found(f"ScheduledQuery {scheduled_id} was not found in the datastore")
    return found


def _interval(value: int | None) -> int:
    if value is None or not 1 <= value <= MAX_INTERVAL:
        raise bad_request(BAD_INTERVAL)
    return value


def _saved_query(query_id: int | None) -> Query:
    query = Query.objects.filter(pk=query_id or 0, saved=True).first()
    if query is None:
        raise not_found(f"Query {query_id} was not found in the datastore")
    return query


def _next_name(name: str, pack: Pack, exclude: int | None = None) -> str:
    """Fleet's rule: append "-1" until no other query of the pack has the name."""
    taken = set(PackQuery.objects.filter(pack=pack).exclude(pk=exclude).values_list("name", flat=True))
    while name in taken:
        name += "-1"
    if len(name) > _MAX_NAME:
        raise conflict(f'a query named "{name[:64]}…" is already scheduled in this pack')
    return name


OPTIONS = ("snapshot", "removed", "platform", "version", "shard", "denylist")


def schedule(user: User, data: dict[str, Any]) -> PackQuery:
    """Add a saved query to a pack under a name unique in the pack."""
    require(user, permissions.Action.WRITE)
    interval = _interval(data.get("interval"))
    pack = get(data.get("pack_id") or 0)
    query = _saved_query(data.get("query_id"))
    options = {field: data.get(field) for field in OPTIONS}
    with transaction.atomic():
        scheduled = PackQuery.objects.create(
            pack=pack, query=query, name=_next_name(query.name, pack), interval=interval, **options
        )
    return get_scheduled(scheduled.pk)


def modify_scheduled(user: User, scheduled: PackQuery, data: dict[str, Any]) -> PackQuery:
    """Fleet's ModifyScheduledQuery: given fields change; `shard: null` clears the shard."""
    require(user, permissions.Action.WRITE)
    if data.get("interval") is not None:
        scheduled.interval = _interval(data["interval"])
    if data.get("pack_id") is not None:
        scheduled.pack = get(data["pack_id"])
        scheduled.name = _next_name(scheduled.name, scheduled.pack, exclude=scheduled.pk)
    if data.get("query_id") is not None:
        scheduled.query = _saved_query(data["query_id"])
    for field in OPTIONS:
        if field == "shard" and "shard" in data:
            scheduled.shard = data["shard"]
        elif data.get(field) is not None:
            setattr(scheduled, field, data[field])
    with transaction.atomic():
        scheduled.save()
    return get_scheduled(scheduled.pk)


def delete_scheduled(user: User, scheduled: PackQuery) -> None:
    require(user, permissions.Action.WRITE)
    with transaction.atomic():
        scheduled.delete()


def scheduled_json(scheduled: PackQuery) -> dict[str, Any]:
    """Fleet's ScheduledQuery of a pack (performance stats are not collected: nulls)."""
    return {
        "created_at": rfc3339(scheduled.created_at),
        "updated_at": rfc3339(scheduled.updated_at),
        "id": scheduled.pk,
        "pack_id": scheduled.pack_id,
        "name": scheduled.name,
        "query_id": scheduled.query_id,
        "query_name": scheduled.query.name,
        "query": scheduled.query.query,
        "description": scheduled.description,
        "interval": scheduled.interval,
        "snapshot": scheduled.snapshot,
        "removed": scheduled.removed,
        "platform": scheduled.platform,
        "version": scheduled.version,
        "shard": scheduled.shard,
        "denylist": scheduled.denylist,
        "stats": NO_STATS,
    }


NO_STATS = {
    "system_time_p50": None,
    "system_time_p95": None,
    "user_time_p50": None,
    "user_time_p95": None,
    "total_executions": None,
}
