"""Pack specs (fleetctl `apply`/`get packs`): packs by name, targets by label and team names, queries by name.

Applying a spec replaces the pack's targets and queries, as Fleet does (host targets are dropped:
a spec cannot name hosts). Specs naming Fleet's own "Global" and "team-<id>" packs are skipped.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from rest_framework import serializers

from accounts import permissions
from accounts.models import Team, User
from activities.record import record
from fleetsite.api.errors import bad_request, not_found, validation_failed
from hosts.models import Label
from queries import packs
from queries.models import Pack, PackQuery, Query
from queries.saved import MAX_INTERVAL

_INVALID_INTERVAL = (
    "pack payload verification: pack scheduled query interval must be an integer greater than 1 and less than 604800"
)
_MAX_ITEMS = 10_000


def _names() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=255), required=False, allow_null=True, max_length=_MAX_ITEMS
    )


class TargetsSerializer(serializers.Serializer):
    labels = _names()
    teams = _names()


class SpecQuerySerializer(serializers.Serializer):
    query = serializers.CharField(max_length=255)
    name = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000, default="")
    interval = serializers.IntegerField(min_value=0, max_value=2**31)
    snapshot = serializers.BooleanField(required=False, allow_null=True, default=None)
    removed = serializers.BooleanField(required=False, allow_null=True, default=None)
    shard = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=100, default=None)
    platform = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255, default=None)
    version = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=64, default=None)
    denylist = serializers.BooleanField(required=False, allow_null=True, default=None)


class PackSpecSerializer(serializers.Serializer):
    name = serializers.CharField(allow_blank=True, max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000, default="")
    platform = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    disabled = serializers.BooleanField(required=False, default=False)
    targets = TargetsSerializer(required=False, allow_null=True, default=None)
    queries = SpecQuerySerializer(many=True, required=False, allow_null=True, default=None, max_length=_MAX_ITEMS)


class PackSpecsSerializer(serializers.Serializer):
    specs = PackSpecSerializer(many=True, allow_empty=True, max_length=_MAX_ITEMS)


def _verify(spec: dict[str, Any]) -> None:
    if not spec["name"].strip():
        raise bad_request(packs.EMPTY_NAME)
    if any(not 1 <= query["interval"] <= MAX_INTERVAL for query in spec["queries"] or []):
        raise bad_request(_INVALID_INTERVAL)
    names = [query["name"] or query["query"] for query in spec["queries"] or []]
    if len(set(names)) != len(names):
        raise validation_failed("queries", f"pack {spec['name']!r}: scheduled query names must be unique in a pack")


def _by_name(model: type, names: list[str], field: str, **scope: Any) -> list[Any]:
    found = {row.name: row for row in model.objects.filter(name__in=names, **scope)}
    missing = [name for name in names if name not in found]
    if missing:
        raise validation_failed(field, f"{model.__name__} {missing[0]!r} was not found in the datastore")
    return [found[name] for name in dict.fromkeys(names)]


def apply(user: User, specs: list[dict[str, Any]]) -> None:
    """Create or replace packs by name, all or nothing; records applied_spec_pack."""
    packs.require(user, permissions.Action.WRITE)
    specs = [spec for spec in specs if not packs.is_system_name(spec["name"])]
    for spec in specs:
        _verify(spec)
    names = [spec["name"] for spec in specs]
    if len(set(names)) != len(names):
        raise validation_failed("specs", "pack names must be unique within the specs")
    with transaction.atomic():
        changed = [spec for spec in specs if _apply_one(spec)]
        # The same specs again (a scheduled `fleetctl apply`) write nothing and record nothing.
        if changed:
            record(user, packs.APPLIED_SPEC_PACK, {})


def _desired(spec: dict[str, Any], labels: list[Label], teams: list[Team]) -> dict[str, Any]:
    """The spec as `spec_json` would show the pack once applied, to tell an unchanged pack apart."""
    queries = []
    for q in spec["queries"] or []:
        entry = {"query": q["query"], "name": q["name"] or q["query"], "description": q["description"]}
        entry["interval"] = q["interval"]
        entry.update({field: q[field] for field in packs.OPTIONS if q[field] is not None})
        queries.append(entry)
    desired: dict[str, Any] = {
        "name": spec["name"],
        "description": spec["description"],
        "platform": spec["platform"],
        "disabled": spec["disabled"],
        "targets": {"labels": sorted(label.name for label in labels), "teams": sorted(team.name for team in teams)},
    }
    if queries:
        desired["queries"] = queries
    return desired


def _unchanged(spec: dict[str, Any], labels: list[Label], teams: list[Team]) -> bool:
    pack = Pack.objects.filter(name=spec["name"]).first()
    if pack is None or pack.hosts.exists():
        return False
    current = spec_json(pack)
    current.pop("id")
    current["targets"] = {key: sorted(names) for key, names in current["targets"].items()}
    return current == _desired(spec, labels, teams)


def _apply_one(spec: dict[str, Any]) -> bool:
    """Create or replace one pack; False when it already matched the spec (nothing written)."""
    targets = spec["targets"] or {}
    labels = _by_name(Label, targets.get("labels") or [], "targets.labels")
    teams = _by_name(Team, targets.get("teams") or [], "targets.teams")
    query_specs = spec["queries"] or []
    queries = _by_name(Query, [q["query"] for q in query_specs], "queries", team__isnull=True, saved=True)
    if _unchanged(spec, labels, teams):
        return False
    by_name = {query.name: query for query in queries}
    pack, _ = Pack.objects.update_or_create(
        name=spec["name"],
        defaults={"description": spec["description"], "platform": spec["platform"], "disabled": spec["disabled"]},
    )
    pack.hosts.clear()
    pack.labels.set(labels)
    pack.teams.set(teams)
    PackQuery.objects.filter(pack=pack).delete()
    PackQuery.objects.bulk_create(
        [
            PackQuery(
                pack=pack,
                query=by_name[q["query"]],
                name=q["name"] or q["query"],
                **{field: q[field] for field in ("description", "interval", *packs.OPTIONS)},
            )
            for q in query_specs
        ]
    )
    return True


def spec_json(pack: Pack) -> dict[str, Any]:
    """Fleet's PackSpec: targets by name, queries by name with only the options that are set."""
    queries = []
    for scheduled in pack.scheduled.select_related("query").order_by("id"):
        entry: dict[str, Any] = {
            "query": scheduled.query.name,
            "name": scheduled.name,
            "description": scheduled.description,
            "interval": scheduled.interval,
        }
        options = {field: getattr(scheduled, field) for field in packs.OPTIONS}
        entry.update({field: value for field, value in options.items() if value is not None})
        queries.append(entry)
    spec: dict[str, Any] = {
        "id": pack.pk,
        "name": pack.name,
        "description": pack.description,
        "platform": pack.platform,
        "disabled": pack.disabled,
        "targets": {
            "labels": list(pack.labels.order_by("name").values_list("name", flat=True)),
            "teams": list(pack.teams.order_by("name").values_list("name", flat=True)),
        },
    }
    if queries:
        spec["queries"] = queries
    return spec


def get_specs(user: User) -> list[dict[str, Any]]:
    packs.require(user, permissions.Action.READ)
    return [spec_json(pack) for pack in Pack.objects.order_by("name")]


def get_spec(user: User, name: str) -> dict[str, Any]:
    packs.require(user, permissions.Action.READ)
    pack = Pack.objects.filter(name=name).first()
    if pack is None:
        raise not_found(f"Pack {name} was not found in the datastore")
    return spec_json(pack)
