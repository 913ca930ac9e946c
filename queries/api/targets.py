"""`POST /targets` and `POST /targets/count`: the live-query target picker (Fleet's server/service/targets.go).

Targets are counted where a live query would reach them: only on teams where the caller may run
the query (any role for a saved query observers may run; otherwise a live-query role), so the
numbers shown before a run match the hosts the campaign then targets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions
from accounts.models import Team, User
from fleetsite.api.errors import FleetAPIError
from fleetsite.api.fields import ObjectIdField
from fleetsite.api.schema import envelope
from fleetsite.api.views import FleetAPIView
from hosts.api.host_extras import SEARCH_LIMIT, host_rows, search_condition
from hosts.api.serializers import rfc3339
from hosts.api.views import label_json
from hosts.constants import MISSING_AFTER
from hosts.labels import host_counts
from hosts.models import Host
from queries import campaigns, running
from queries.api.live import SelectedSerializer
from queries.labels import visible_labels
from queries.models import Query


class TargetSelectionSerializer(serializers.Serializer):
    query = serializers.CharField(required=False, allow_blank=True, default="", max_length=1024)
    query_id = ObjectIdField(required=False, allow_null=True)
    selected = SelectedSerializer(required=False)


def _count() -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0)


TARGET_COUNTS = {
    "targets_count": _count,
    "targets_online": _count,
    "targets_offline": _count,
}
TARGETS = envelope(
    "TargetSearch",
    targets=envelope(
        "TargetLists",
        hosts=serializers.ListField(child=serializers.DictField()),
        labels=serializers.ListField(child=serializers.DictField()),
        teams=serializers.ListField(child=serializers.DictField()),
    ),
    targets_missing_in_action=_count(),
    **{key: make() for key, make in TARGET_COUNTS.items()},
)
TARGETS_COUNT = envelope("TargetCount", **{key: make() for key, make in TARGET_COUNTS.items()})


def query_for_targets(user: User, query_id: int | None) -> Query:
    """The saved query whose observer rule applies, or an unsaved stand-in for ad-hoc SQL (never stored)."""
    if not query_id:
        return Query(saved=False)
    try:
        return running.visible_query(user, query_id)
    except running.RunRefused as exc:
        raise FleetAPIError(exc.status, "Resource Not Found", str(exc)) from exc


def runnable_hosts(user: User, query: Query) -> QuerySet:
    teams = campaigns.runnable_team_ids(user, query)
    return Host.objects.all() if teams is None else Host.objects.filter(team_id__in=teams)


def target_metrics(hosts: QuerySet, now: datetime) -> dict[str, int]:
    """Fleet's TargetMetrics: missing-in-action hosts are counted apart from online and offline."""
    missing = Q(seen_time__lte=now - MISSING_AFTER)
    counts = hosts.order_by().aggregate(
        total=Count("id"),
        missing=Count("id", filter=missing),
        online=Count("id", filter=~missing & Q(online_until__gt=now)),
    )
    return {
        "targets_count": counts["total"],
        "targets_online": counts["online"],
        "targets_offline": counts["total"] - counts["online"] - counts["missing"],
        "targets_missing_in_action": counts["missing"],
    }


def _selected(data: dict[str, Any]) -> dict[str, list[int]]:
    return data.get("selected") or {"hosts": [], "labels": [], "teams": []}


def _team_rows(user: User, query: Query, text: str, excluded: list[int]) -> list[dict[str, Any]]:
    """Teams as the picker shows them: no secrets or agent options (Fleet strips them for observers)."""
    teams = permissions.scope_to_teams(Team.objects.all(), user, field="id").exclude(pk__in=excluded)
    if text:
        teams = teams.filter(name__icontains=text)
    runnable = campaigns.runnable_team_ids(user, query)
    if runnable is not None:
        teams = teams.filter(pk__in=runnable)
    teams = teams.annotate(n_hosts=Count("hosts", distinct=True), n_users=Count("memberships", distinct=True))
    return [
        {
            "id": team.pk,
            "created_at": rfc3339(team.created_at),
            "name": team.name,
            "description": team.description,
            "user_count": team.n_users,
            "host_count": team.n_hosts,
            "display_text": team.name,
            "count": team.n_hosts,
        }
        for team in teams.order_by("name")[:SEARCH_LIMIT]
    ]


def _label_rows(user: User, text: str, excluded: list[int]) -> list[dict[str, Any]]:
    labels = visible_labels(user).exclude(pk__in=excluded)
    if text:
        labels = labels.filter(name__icontains=text)
    found = list(labels.order_by("label_type", "name")[:SEARCH_LIMIT])
    counts = host_counts(user, [label.pk for label in found])
    return [label_json(label, counts.get(label.pk, 0)) for label in found]


class TargetsView(FleetAPIView):
    """`POST /targets`: hosts, labels and teams matching the text, and counts of the selection."""

    @extend_schema(summary="Search live-query targets and count the selection", request=TargetSelectionSerializer,
                   responses={200: TARGETS})  # fmt: skip
    def post(self, request: Request) -> Response:
        data = self.validated(TargetSelectionSerializer, request)
        query = query_for_targets(request.user, data.get("query_id"))
        selected = _selected(data)
        text = data["query"].strip()
        hosts = runnable_hosts(request.user, query).exclude(pk__in=selected["hosts"])
        if text:
            hosts = hosts.filter(search_condition(text)).order_by("hostname", "id")
        else:
            hosts = hosts.order_by("-seen_time", "id")
        targets = {
            "hosts": host_rows(list(hosts.values_list("id", flat=True)[:SEARCH_LIMIT])),
            "labels": _label_rows(request.user, text, selected["labels"]),
            "teams": _team_rows(request.user, query, text, selected["teams"]),
        }
        metrics = target_metrics(campaigns.target_hosts(request.user, selected, query), timezone.now())
        return Response({"targets": targets, **metrics})


class TargetsCountView(FleetAPIView):
    """`POST /targets/count`: how many hosts the selection reaches, online and offline."""

    @extend_schema(summary="Count the hosts a live-query selection reaches", request=TargetSelectionSerializer,
                   responses={200: TARGETS_COUNT})  # fmt: skip
    def post(self, request: Request) -> Response:
        data = self.validated(TargetSelectionSerializer, request)
        query = query_for_targets(request.user, data.get("query_id"))
        metrics = target_metrics(campaigns.target_hosts(request.user, _selected(data), query), timezone.now())
        metrics.pop("targets_missing_in_action")
        return Response(metrics)
