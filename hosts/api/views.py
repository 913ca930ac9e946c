"""Hosts and labels REST API (fleet-protocol §4.2, §4.6)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

import orjson
from django.db.models import Q, QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions
from accounts.models import Team
from activities.feed import activity_json
from activities.models import Activity
from fleetsite.api.aliases import names_written
from fleetsite.api.errors import FleetAPIError, bad_request, not_found, validation_failed
from fleetsite.api.fields import ObjectIdField
from fleetsite.api.pagination import Page, page_from
from fleetsite.api.schema import EMPTY, envelope, listing, single
from fleetsite.api.views import FleetAPIView, flag
from fleetsite.dbrouter import reads_from_replica
from fleetsite.lib.tokens import digest
from hosts import actions, device_mapping
from hosts.actions import HostActionDenied
from hosts.api.serializers import host_detail, rfc3339, summary_from_row, summary_rows
from hosts.filtersets import HostFilterSet
from hosts.labels import host_counts
from hosts.models import Host, Label
from hosts.paging import list_identity, page_ids
from hosts.summary import cached_count, cached_summary_counts, hosts_csv


def visible_hosts(request: Request) -> QuerySet:
    return permissions.scope_to_teams(Host.objects.select_related("team"), request.user)


# Fleet's page size when a request names a page but no per_page (server/service/transport.go).
FLEET_DEFAULT_PER_PAGE = 20
# Rows fetched per query while streaming an unpaged list: memory stays flat however many hosts.
STREAM_CHUNK = 500


def _with_mappings(rows: list[dict[str, Any]], wanted: bool) -> list[dict[str, Any]]:
    """Fleet's `device_mapping=true`: each host's e-mails, present only for hosts that have some."""
    if wanted and rows:
        found = device_mapping.mappings_by_host(row["id"] for row in rows)
        for row in rows:
            if row["id"] in found:
                row["device_mapping"] = found[row["id"]]
    return rows


def all_hosts_stream(queryset: QuerySet, with_mappings: bool = False) -> StreamingHttpResponse:
    """Every host of `queryset` as Fleet answers a list without `per_page`, written as it is read.

    Fleet returns the whole fleet in one body and fleetctl depends on it; building that body
    in memory costs memory per host, so ids come from a chunked cursor and rows 500 at a time.
    """

    def chunks() -> Iterator[bytes]:
        yield b'{"hosts":['
        first = True
        ids = queryset.values_list("id", flat=True).iterator(chunk_size=STREAM_CHUNK * 4)
        while batch := list(islice(ids, STREAM_CHUNK)):
            now = timezone.now()
            rows = _with_mappings([summary_from_row(row, now) for row in summary_rows(batch)], with_mappings)
            body = b",".join(orjson.dumps(row, option=orjson.OPT_UTC_Z) for row in rows)
            yield body if first else b"," + body
            first = False
        yield b'],"meta":{"has_next_results":false,"has_previous_results":false}}'

    return StreamingHttpResponse(chunks(), content_type="application/json")


def hosts_page(queryset: QuerySet, page: Page, with_mappings: bool = False, identity: str = "") -> Response:
    """One page of `queryset` in Fleet's list shape: the page's ids first (`hosts.paging`), then their rows."""
    host_ids, more = page_ids(queryset, page.page, page.per_page, identity)
    meta = {"has_next_results": more, "has_previous_results": page.page > 0}
    now = timezone.now()
    rows = _with_mappings([summary_from_row(row, now) for row in summary_rows(host_ids)], with_mappings)
    return names_written(Response({"hosts": rows, "meta": meta}))


def get_visible_host(request: Request, host_id: int) -> Host:
    """A host the user may see; others are 404, so their existence does not leak."""
    host = visible_hosts(request).filter(pk=host_id).first()
    if host is None:
        raise not_found(f"Host {host_id} was not found in the datastore")
    return host


def _forbid(exc: HostActionDenied) -> FleetAPIError:
    return FleetAPIError(403, "Permission Denied", str(exc))


DEVICE_MAPPING_PARAM = OpenApiParameter("device_mapping", bool, description="add each host's user e-mails")


@extend_schema_view(
    get=extend_schema(
        summary="List hosts",
        parameters=[DEVICE_MAPPING_PARAM],
        responses={200: listing("HostList", "hosts", paged=True)},
    )
)
@reads_from_replica
class HostListView(FleetAPIView):
    filterset_class = HostFilterSet

    def get(self, request: Request) -> Response | StreamingHttpResponse:
        queryset = self.filter_queryset(request, visible_hosts(request))
        page = page_from(request)
        if request.query_params.get("after"):
            page = Page(page=0, per_page=page.per_page)  # as in Fleet, `after` supersedes `page`
        if not request.query_params.get("per_page"):
            if request.query_params.get("page") in (None, ""):
                return all_hosts_stream(queryset, flag(request, "device_mapping"))
            # Fleet's listOptionsFromRequest: a page without per_page means its default of 20.
            page = Page(page=page.page, per_page=FLEET_DEFAULT_PER_PAGE)
        return hosts_page(queryset, page, flag(request, "device_mapping"), list_identity(request, request.user))


@extend_schema_view(
    get=extend_schema(
        summary="Count hosts matching the list filters",
        responses={200: envelope("HostCount", count=serializers.IntegerField())},
    )
)
@reads_from_replica
class HostCountView(FleetAPIView):
    filterset_class = HostFilterSet

    def get(self, request: Request) -> Response:
        queryset = self.filter_queryset(request, visible_hosts(request))
        return Response({"count": cached_count(request.user, queryset, request)})


class HostReportView(FleetAPIView):
    """`GET /hosts/report?format=csv`: the filtered host list as CSV (Fleet's export)."""

    filterset_class = HostFilterSet

    @extend_schema(summary="Export the filtered host list as CSV", responses={(200, "text/csv"): str})
    def get(self, request: Request) -> HttpResponse:
        if request.query_params.get("format", "csv") != "csv":
            raise bad_request("invalid format: only csv is supported")
        queryset = self.filter_queryset(request, visible_hosts(request))
        return hosts_csv(queryset)


@extend_schema_view(
    get=extend_schema(summary="Get a host", responses={200: single("HostDetail", "host")}),
    delete=extend_schema(summary="Delete a host", responses={200: EMPTY}),
)
class HostDetailView(FleetAPIView):
    def get(self, request: Request, host_id: int) -> Response:
        host = get_visible_host(request, host_id)
        include_software = request.query_params.get("exclude_software", "").lower() != "true"
        return Response({"host": host_detail(host, timezone.now(), include_software)})

    def delete(self, request: Request, host_id: int) -> Response:
        host = get_visible_host(request, host_id)
        try:
            actions.delete(request.user, Host.objects.filter(pk=host.pk))
        except HostActionDenied as exc:
            raise _forbid(exc) from exc
        return Response({})


class HostByIdentifierView(FleetAPIView):
    """`GET /hosts/identifier/{identifier}`: hostname, uuid, osquery host id, node key or serial."""

    @extend_schema(summary="Get a host by identifier", responses={200: single("HostDetail", "host")})
    def get(self, request: Request, identifier: str) -> Response:
        match = (
            Q(hostname=identifier)
            | Q(uuid=identifier)
            | Q(osquery_host_id=identifier)
            | Q(hardware_serial=identifier)
            | Q(node_key_digest=digest(identifier))
        )
        host = visible_hosts(request).filter(match).order_by("id").first()
        if host is None:
            raise not_found(f"Host doesn't exist with identifier {identifier}")
        return Response({"host": host_detail(host, timezone.now())})


@extend_schema_view(
    post=extend_schema(summary="Ask a host to refresh its vitals", request=None, responses={200: EMPTY})
)
class HostRefetchView(FleetAPIView):
    def post(self, request: Request, host_id: int) -> Response:
        host = get_visible_host(request, host_id)
        actions.refetch(request.user, host)
        return Response({})


class HostFiltersSerializer(serializers.Serializer):
    """The `filters` object of bulk actions: the list filters as JSON."""

    query = serializers.CharField(required=False, allow_blank=True)
    status = serializers.CharField(required=False, allow_blank=True)
    label_id = ObjectIdField(required=False, allow_null=True)
    team_id = ObjectIdField(required=False, allow_null=True, min_value=0)
    platform = serializers.CharField(required=False, allow_blank=True)
    policy_id = ObjectIdField(required=False, allow_null=True)
    policy_response = serializers.CharField(required=False, allow_blank=True)
    software_title_id = ObjectIdField(required=False, allow_null=True)


def hosts_by_filters(request: Request, filters: dict[str, Any]) -> QuerySet:
    """Visible hosts matching a bulk action's filters, with the same FilterSet as the list."""
    params = {key: str(value) for key, value in filters.items() if value not in (None, "")}
    if not params:
        raise validation_failed("filters", "at least one filter is required; an empty filter would match every host")
    filterset = HostFilterSet(params, queryset=visible_hosts(request), request=request)
    if not filterset.is_valid():
        name, messages = next(iter(filterset.errors.items()))
        raise validation_failed(f"filters.{name}", " ".join(messages))
    return filterset.qs


class BulkDeleteSerializer(serializers.Serializer):
    ids = serializers.ListField(child=ObjectIdField(), required=False, max_length=100_000)
    filters = HostFiltersSerializer(required=False)

    def validate(self, attrs: dict) -> dict:
        if bool(attrs.get("ids")) == bool(attrs.get("filters")):
            raise serializers.ValidationError({"ids": "give either ids or filters"})
        return attrs


class HostBulkDeleteView(FleetAPIView):
    """`POST /hosts/delete` with `{"ids": [...]}` or `{"filters": {...}}`."""

    @extend_schema(summary="Delete hosts by id or by filter", request=BulkDeleteSerializer, responses={200: EMPTY})
    def post(self, request: Request) -> Response:
        data = self.validated(BulkDeleteSerializer, request)
        if data.get("ids"):
            hosts = visible_hosts(request).filter(pk__in=data["ids"])
            if hosts.count() != len(set(data["ids"])):
                raise not_found("some of these hosts were not found in the datastore")
        else:
            hosts = hosts_by_filters(request, data["filters"])
        try:
            actions.delete(request.user, hosts)
        except HostActionDenied as exc:
            raise _forbid(exc) from exc
        return Response({})


class TransferSerializer(serializers.Serializer):
    team_id = ObjectIdField(allow_null=True, min_value=0)
    hosts = serializers.ListField(child=ObjectIdField(), allow_empty=False, max_length=100_000)


class TransferByFilterSerializer(serializers.Serializer):
    team_id = ObjectIdField(allow_null=True, min_value=0)
    filters = HostFiltersSerializer()


def _target_team(request: Request, team_id: int | None) -> Team | None:
    if not team_id:
        return None  # fleet-protocol §4.2: null (or 0) means "no team"
    team = Team.objects.filter(pk=team_id).first()
    if team is None or not permissions.can_read_team(request.user, team.pk):
        raise not_found(f"Team {team_id} was not found in the datastore")
    return team


class HostTransferView(FleetAPIView):
    """`POST /hosts/transfer`: `{"team_id": n | null, "hosts": [ids]}`."""

    @extend_schema(summary="Move hosts to a team", request=TransferSerializer, responses={200: EMPTY})
    def post(self, request: Request) -> Response:
        data = self.validated(TransferSerializer, request)
        team = _target_team(request, data["team_id"])
        hosts = visible_hosts(request).filter(pk__in=data["hosts"])
        if hosts.count() != len(set(data["hosts"])):
            raise not_found("some of these hosts were not found in the datastore")
        try:
            actions.transfer(request.user, team, hosts)
        except HostActionDenied as exc:
            raise _forbid(exc) from exc
        return Response({})


class HostTransferByFilterView(FleetAPIView):
    """`POST /hosts/transfer/filter`: `{"team_id", "filters": {...}}`."""

    @extend_schema(
        summary="Move every host matching filters", request=TransferByFilterSerializer, responses={200: EMPTY}
    )
    def post(self, request: Request) -> Response:
        data = self.validated(TransferByFilterSerializer, request)
        team = _target_team(request, data["team_id"])
        try:
            actions.transfer(request.user, team, hosts_by_filters(request, data["filters"]))
        except HostActionDenied as exc:
            raise _forbid(exc) from exc
        return Response({})


def _count() -> serializers.IntegerField:
    """A new count field each time: a serializer's fields must be distinct instances."""
    return serializers.IntegerField(min_value=0)


HOST_SUMMARY = envelope(
    "HostSummary",
    totals_hosts_count=_count(),
    online_count=_count(),
    offline_count=_count(),
    missing_30_days_count=_count(),
    mia_count=_count(),
    new_count=_count(),
    all_linux_count=_count(),
    low_disk_space_count=serializers.IntegerField(min_value=0, required=False),
    platforms=serializers.ListField(
        child=envelope("PlatformCount", platform=serializers.CharField(allow_blank=True), hosts_count=_count())
    ),
    builtin_labels=serializers.ListField(child=serializers.DictField()),
)


@reads_from_replica
class HostSummaryView(FleetAPIView):
    """`GET /host_summary`: counts by status and platform (fleet-protocol §4.2)."""

    @extend_schema(summary="Host counts by status and platform", responses={200: HOST_SUMMARY})
    def get(self, request: Request) -> Response:
        queryset = visible_hosts(request)
        narrowed_by: dict[str, Any] = {}
        team_id = request.query_params.get("team_id")
        if team_id not in (None, ""):
            team = _target_team(request, _int_param(team_id, "team_id"))
            queryset = queryset.filter(team=team)
            narrowed_by["team"] = team.pk if team is not None else None
        if request.query_params.get("platform"):
            queryset = HostFilterSet({"platform": request.query_params["platform"]}, queryset=queryset).qs
            narrowed_by["platform"] = request.query_params["platform"]
        low_disk = request.query_params.get("low_disk_space")
        low_disk_space = _int_param(low_disk, "low_disk_space") if low_disk else None
        return Response(cached_summary_counts(request.user, queryset, low_disk_space, **narrowed_by))


def _int_param(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError as exc:
        raise bad_request(f"invalid {name}: {value!r} is not an integer") from exc
    if number < 0:
        raise bad_request(f"invalid {name}: must not be negative")
    return number


class HostActivitiesView(FleetAPIView):
    """`GET /hosts/{id}/activities`: the feed entries about one host."""

    @extend_schema(
        summary="Activities about a host", responses={200: listing("HostActivityList", "activities", paged=True)}
    )
    def get(self, request: Request, host_id: int) -> Response:
        host = get_visible_host(request, host_id)
        rows, meta = page_from(request).slice(Activity.objects.filter(host=host))
        return Response({"activities": [activity_json(a) for a in rows], "meta": meta})


def label_json(label: Label, host_count: int | None = None) -> dict:
    data = {
        "id": label.pk,
        "name": label.name,
        "description": label.description,
        "query": label.query,
        "platform": label.platform,
        "label_type": label.label_type,
        "label_membership_type": label.label_membership_type,
        "display_text": label.name,
        "author_id": label.author_id,
        "team_id": label.team_id,
        "created_at": rfc3339(label.created_at),
        "updated_at": rfc3339(label.updated_at),
    }
    if host_count is not None:
        data["host_count"] = host_count
        data["count"] = host_count
    return data


class LabelCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    query = serializers.CharField(required=False, allow_blank=True, default="")
    platform = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    host_ids = serializers.ListField(child=ObjectIdField(), required=False)

    def validate(self, attrs: dict) -> dict:
        manual = "host_ids" in attrs
        if manual and attrs.get("query"):
            raise serializers.ValidationError({"query": "a manual label (with host_ids) cannot have a query"})
        if not manual and not attrs.get("query", "").strip():
            raise serializers.ValidationError({"query": "a dynamic label needs a query"})
        return attrs


@reads_from_replica
class LabelListView(FleetAPIView):
    @extend_schema(
        summary="Labels the caller can see",
        parameters=[OpenApiParameter("include_host_counts", bool)],
        responses={200: listing("LabelList", "labels")},
    )
    def get(self, request: Request) -> Response:
        from queries.labels import visible_labels  # queries builds on hosts, not the reverse

        labels = visible_labels(request.user)
        if request.query_params.get("include_host_counts", "").lower() in ("true", "1"):
            counts = host_counts(request.user)
            return Response({"labels": [label_json(label, counts.get(label.pk, 0)) for label in labels]})
        return Response({"labels": [label_json(label) for label in labels]})

    @extend_schema(
        summary="Create a label", request=LabelCreateSerializer, responses={200: single("LabelDetail", "label")}
    )
    def post(self, request: Request) -> Response:
        """One code path with the label UI: SQL checked, name unique, activity recorded."""
        from queries import labels as label_service  # queries builds on hosts, not the reverse

        serializer = LabelCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        label = label_service.create(
            request.user,
            data["name"],
            description=data["description"],
            query=data["query"],
            platform=data["platform"],
            host_ids=data.get("host_ids"),
        )
        return Response({"label": label_json(label)})


@reads_from_replica
class LabelHostsView(FleetAPIView):
    filterset_class = HostFilterSet

    @extend_schema(
        summary="Hosts in a label",
        parameters=[DEVICE_MAPPING_PARAM],
        responses={200: listing("HostList", "hosts", paged=True)},
    )
    def get(self, request: Request, label_id: int) -> Response:
        from queries.labels import visible_labels

        if not visible_labels(request.user).filter(pk=label_id).exists():
            raise not_found(f"Label {label_id} was not found in the datastore")
        page = page_from(request)
        queryset = self.filter_queryset(request, visible_hosts(request).filter(labels__id=label_id))
        return hosts_page(queryset, page, flag(request, "device_mapping"), list_identity(request, request.user))
