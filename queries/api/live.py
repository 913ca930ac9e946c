"""Live-query REST API (fleet-protocol §4.5): start campaigns, run saved queries synchronously, read results."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions
from accounts.models import User
from fleetsite.api.errors import FleetAPIError, bad_request, not_found, validation_failed
from fleetsite.api.fields import ObjectIdField
from fleetsite.api.schema import EMPTY, FleetErrorSerializer, envelope, single
from fleetsite.api.views import FleetAPIView
from hosts.api.serializers import rfc3339
from hosts.models import Host
from queries import campaigns, running
from queries.choices import TargetStatus
from queries.labels import visible_labels
from queries.models import Campaign, CampaignResult, CampaignTarget, Query
from queries.sql import SQLError, validate_read_only

MAX_KEEP_OPEN = running.MAX_KEEP_OPEN

# Response bodies, for the OpenAPI schema.
CAMPAIGN = single("CampaignEnvelope", "campaign")
# A campaign streams its results through the channel layer; without Redis it cannot start.
UNAVAILABLE = OpenApiResponse(FleetErrorSerializer, description="Live queries are unavailable")


def _count() -> serializers.IntegerField:
    """A new count field each time: a serializer's fields must be distinct instances."""
    return serializers.IntegerField(min_value=0)


class HostQueryResultSerializer(serializers.Serializer):
    """One host's answer to a synchronous run: its rows, or the error osquery reported."""

    host_id = serializers.IntegerField(allow_null=True)
    rows = serializers.ListField(child=serializers.DictField(), allow_null=True)
    error = serializers.CharField(allow_null=True, allow_blank=True)


def _host_results() -> serializers.ListField:
    return serializers.ListField(child=HostQueryResultSerializer())


SAVED_QUERY_RUN = envelope(
    "SavedQueryRun",
    query_id=serializers.IntegerField(),
    targeted_host_count=_count(),
    responded_host_count=_count(),
    results=_host_results(),
)
SYNC_RUN = envelope(
    "SyncQueryRun",
    summary=envelope("SyncQueryRunSummary", targeted_host_count=_count(), responded_host_count=_count()),
    live_query_results=serializers.ListField(
        child=envelope("SyncQueryRunResults", query_id=serializers.IntegerField(), results=_host_results())
    ),
)
CAMPAIGN_RESULTS = envelope(
    "CampaignResults",
    campaign=serializers.DictField(),
    query=serializers.CharField(allow_blank=True),
    answered_host_count=_count(),
    results=serializers.ListField(child=serializers.DictField()),
)


class SelectedSerializer(serializers.Serializer):
    """Fleet's HostTargets; Fleet 4.8 names `teams` `fleets`, and either name is read."""

    hosts = serializers.ListField(child=ObjectIdField(), required=False, default=list)
    labels = serializers.ListField(child=ObjectIdField(), required=False, default=list)
    teams = serializers.ListField(child=ObjectIdField(min_value=0), required=False, default=list)
    fleets = serializers.ListField(child=ObjectIdField(min_value=0), required=False, write_only=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        fleets = attrs.pop("fleets", None)
        if fleets:
            attrs["teams"] = list(dict.fromkeys([*attrs.get("teams", []), *fleets]))
        return attrs


class RunSerializer(serializers.Serializer):
    query = serializers.CharField(required=False, allow_blank=True, max_length=100_000)
    query_id = ObjectIdField(required=False, allow_null=True)
    selected = SelectedSerializer(required=False)
    keep_open_seconds = serializers.IntegerField(
        required=False, min_value=0, max_value=int(MAX_KEEP_OPEN.total_seconds())
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("query") and not attrs.get("query_id"):
            raise serializers.ValidationError({"query": "one of query or query_id must be specified"})
        return attrs


def checked_sql(sql: str, field: str = "query") -> str:
    """SQL that osquery can run and that only reads, else Fleet's 422 with the position."""
    try:
        validate_read_only(sql)
    except SQLError as exc:
        raise validation_failed(field, str(exc)) from exc
    return sql


def visible_query(user: User, query_id: int) -> Query:
    try:
        return running.visible_query(user, query_id)
    except running.RunRefused as exc:
        raise FleetAPIError(exc.status, "Resource Not Found", str(exc)) from exc


def campaign_json(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": campaign.pk,
        "query_id": campaign.query_id,
        "status": campaign.status,
        "user_id": campaign.user_id,
        "keep_open_until": rfc3339(campaign.keep_open_until),
        "created_at": rfc3339(campaign.created_at),
        "updated_at": rfc3339(campaign.updated_at),
        "Metrics": campaigns.metrics(campaign),
    }


def _refused(exc: running.RunRefused) -> FleetAPIError:
    message = "Permission Denied" if exc.status == 403 else "Resource Not Found"
    return FleetAPIError(exc.status, message, str(exc))


def _ensure_live_queries_enabled() -> None:
    try:
        running.ensure_enabled()
    except running.RunRefused as exc:
        raise _refused(exc) from exc


def _ensure_streamable() -> None:
    try:
        running.ensure_streamable()
    except running.LiveQueryUnavailable as exc:
        raise FleetAPIError(503, "Live queries are unavailable", str(exc)) from exc


def _start(request: Request, query: Query, selected: dict, keep_open: timedelta | None = None) -> Campaign:
    try:
        return running.start(request.user, query, selected, keep_open)
    except campaigns.NoHostsTargeted as exc:
        raise bad_request("no hosts targeted") from exc


def _query_for_run(request: Request, data: dict[str, Any]) -> Query:
    try:
        return running.query_to_run(request.user, data.get("query_id"), data.get("query"))
    except SQLError as exc:
        raise validation_failed("query", str(exc)) from exc
    except running.RunRefused as exc:
        raise _refused(exc) from exc


def _require_may_run(request: Request, query: Query) -> None:
    if not running.may_run(request.user, query):
        raise FleetAPIError(403, "Permission Denied", "forbidden")


class RunByIdentifiersSerializer(serializers.Serializer):
    query = serializers.CharField(required=False, allow_blank=True, max_length=100_000)
    query_id = ObjectIdField(required=False, allow_null=True)
    # fleetctl splits an unset --hosts or --labels flag on commas and sends [""]: blanks are allowed here
    # and dropped in the view, as Fleet's DetectMissingLabels skips them.
    selected = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField(max_length=255, allow_blank=True, trim_whitespace=True))
    )

    validate = RunSerializer.validate


class RunByIdentifiersView(FleetAPIView):
    """`POST /queries/run_by_identifiers` (and the older `run_by_names`): hosts by name, uuid or serial."""

    @extend_schema(
        summary="Start a live query on hosts named by hostname, uuid or serial",
        request=RunByIdentifiersSerializer,
        responses={200: CAMPAIGN, 503: UNAVAILABLE},
    )
    def post(self, request: Request) -> Response:
        _ensure_live_queries_enabled()
        serializer = RunByIdentifiersSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        query = _query_for_run(request, data)
        _ensure_streamable()
        identifiers = [name for name in data["selected"].get("hosts", []) if name]
        label_names = [name for name in data["selected"].get("labels", []) if name]
        # Another team's labels do not exist for this user, like everything else of that team.
        visible = visible_labels(request.user).filter(name__in=label_names)
        label_ids = list(visible.values_list("id", flat=True))
        if len(label_ids) != len(set(label_names)):
            known = set(visible.values_list("name", flat=True))
            # Fleet's InvalidLabelSpecifiedErrMsg: fleetctl query looks for this text to show it alone.
            raise bad_request(f"Invalid label name(s) specified: {', '.join(sorted(set(label_names) - known))}.")
        host_ids = list(
            Host.objects.filter(
                Q(hostname__in=identifiers) | Q(uuid__in=identifiers) | Q(hardware_serial__in=identifiers)
                | Q(osquery_host_id__in=identifiers)
            ).values_list("id", flat=True)
        )  # fmt: skip
        campaign = _start(request, query, {"hosts": host_ids, "labels": label_ids, "teams": []})
        return Response({"campaign": campaign_json(campaign)})


def _wait_for_answers(campaign: Campaign, period: float) -> None:
    deadline = time.monotonic() + period
    while time.monotonic() < deadline:
        if not CampaignTarget.objects.filter(campaign=campaign, status=TargetStatus.PENDING).exists():
            return
        time.sleep(0.5)


def _results_json(campaign: Campaign) -> list[dict[str, Any]]:
    return [
        {"host_id": result.host_id, "rows": result.rows, "error": result.error}
        for result in CampaignResult.objects.filter(campaign=campaign)
    ]


class HostIdsSerializer(serializers.Serializer):
    host_ids = serializers.ListField(child=ObjectIdField(), allow_empty=False)


class RunSavedQueryView(FleetAPIView):
    """`POST /queries/{id}/run`: run a saved query on hosts and wait for their answers (for scripts)."""

    @extend_schema(
        summary="Run a saved query on hosts and wait for their answers",
        request=HostIdsSerializer,
        responses={200: SAVED_QUERY_RUN},
    )
    def post(self, request: Request, query_id: int) -> Response:
        _ensure_live_queries_enabled()
        serializer = HostIdsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        query = visible_query(request.user, query_id)
        _require_may_run(request, query)
        campaign = _start(request, query, {"hosts": serializer.validated_data["host_ids"]})
        targeted = campaign.targets.count()
        _wait_for_answers(campaign, settings.FLEETSITE_LIVE_QUERY_REST_PERIOD)
        campaigns.stop(campaign)
        results = _results_json(campaign)
        return Response(
            {
                "query_id": query.pk,
                "targeted_host_count": targeted,
                "responded_host_count": len(results),
                "results": results,
            }
        )


class SyncRunSerializer(serializers.Serializer):
    query_ids = serializers.ListField(child=ObjectIdField(), allow_empty=False)
    host_ids = serializers.ListField(child=ObjectIdField(), allow_empty=False)


class SyncRunView(FleetAPIView):
    """`GET /queries/run` with a JSON body (yes, a GET): several saved queries, wait, then all results."""

    get_body_serializer = SyncRunSerializer  # documented by fleetsite.api.schema.FleetAutoSchema

    def get(self, request: Request) -> Response:
        _ensure_live_queries_enabled()
        serializer = SyncRunSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        queries = [visible_query(request.user, query_id) for query_id in serializer.validated_data["query_ids"]]
        for query in queries:
            _require_may_run(request, query)
        started = [
            (query, _start(request, query, {"hosts": serializer.validated_data["host_ids"]})) for query in queries
        ]
        deadline = time.monotonic() + settings.FLEETSITE_LIVE_QUERY_REST_PERIOD
        for _, campaign in started:
            _wait_for_answers(campaign, max(0.0, deadline - time.monotonic()))
        responded: set[int] = set()
        output = []
        for query, campaign in started:
            campaigns.stop(campaign)
            results = _results_json(campaign)
            responded.update(result["host_id"] for result in results if result["host_id"])
            output.append({"query_id": query.pk, "results": results})
        selected = {"hosts": serializer.validated_data["host_ids"]}
        targeted = len(
            {
                host
                for query in queries
                for host in campaigns.target_hosts(request.user, selected, query).values_list("id", flat=True)
            }
        )
        summary = {"targeted_host_count": targeted, "responded_host_count": len(responded)}
        return Response({"summary": summary, "live_query_results": output})


@extend_schema_view(
    get=extend_schema(
        summary="Run saved queries on hosts and wait for their answers (JSON body on a GET)",
        request=SyncRunSerializer,
        responses={200: SYNC_RUN},
    ),
    post=extend_schema(
        summary="Start a live query campaign", request=RunSerializer, responses={200: CAMPAIGN, 503: UNAVAILABLE}
    ),
)
class RunCampaignView(SyncRunView):
    """`POST /queries/run` starts a campaign whose results stream over the websocket; GET is the synchronous run."""

    def post(self, request: Request) -> Response:
        _ensure_live_queries_enabled()
        serializer = RunSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        query = _query_for_run(request, data)
        _ensure_streamable()
        keep_open = timedelta(seconds=data["keep_open_seconds"]) if data.get("keep_open_seconds") else None
        selected = data.get("selected") or {"hosts": [], "labels": [], "teams": []}
        return Response({"campaign": campaign_json(_start(request, query, selected, keep_open))})


def visible_campaign(request: Request, campaign_id: int) -> Campaign:
    campaign = Campaign.objects.select_related("query").filter(pk=campaign_id).first()
    if campaign is None or (campaign.user_id != request.user.pk and not permissions.is_global_admin(request.user)):
        raise not_found(f"Campaign {campaign_id} was not found in the datastore")
    return campaign


class CampaignResultsView(FleetAPIView):
    """Beyond Fleet: a campaign's stored results, readable after its websocket closed."""

    @extend_schema(summary="A live query campaign's stored results", responses={200: CAMPAIGN_RESULTS})
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign = visible_campaign(request, campaign_id)
        frames, _ = campaigns.stored_frames(campaign)
        return Response(
            {
                "campaign": campaign_json(campaign),
                "query": campaign.query.query,
                "answered_host_count": campaigns.answered(campaign),
                "results": frames,
            }
        )


class CampaignStopView(FleetAPIView):
    """Beyond Fleet: stop a campaign over REST, for clients without its websocket."""

    @extend_schema(summary="Stop a live query campaign", request=None, responses={200: EMPTY})
    def post(self, request: Request, campaign_id: int) -> Response:
        campaigns.stop(visible_campaign(request, campaign_id))
        return Response({})
