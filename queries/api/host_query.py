"""One host's live query over REST, and the live-query health checks (Fleet's live_queries.go, status.go).

`POST /hosts/{id}/query` runs a campaign on one host and waits for its answer, so a script gets
rows without a websocket. As in Fleet, an offline host is not queried (200, `status: offline`)
and a host that does not answer in time gives 200 with `error`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from fleetsite.api.errors import FleetAPIError, bad_request, forbidden
from fleetsite.api.schema import EMPTY, FleetErrorSerializer, envelope
from fleetsite.api.views import FleetAPIView
from fleetsite.lib.tokens import digest
from fleetsite.models import FleetConfig
from hosts.api.views import visible_hosts
from hosts.choices import HostStatus
from hosts.models import Host
from queries import campaigns, live, running
from queries.api import live as live_api
from queries.models import CampaignResult
from queries.sql import SQLError

# Fleet's answer when the host did not answer within the REST period.
TIMEOUT_ERROR = "timeout waiting for results"
NOT_FOUND = "Host was not found in the datastore"


class HostQuerySerializer(serializers.Serializer):
    query = serializers.CharField(required=False, allow_blank=True, default="", max_length=100_000)


HOST_QUERY = envelope(
    "OneHostQueryResult",
    host_id=serializers.IntegerField(),
    rows=serializers.ListField(child=serializers.DictField(), allow_null=True),
    query=serializers.CharField(),
    status=serializers.ChoiceField(choices=["online", "offline"]),
    error=serializers.CharField(required=False),
)


def run_on_host(request: Request, host: Host, sql: str) -> dict[str, Any]:
    """Fleet's runLiveQueryOnHost: offline hosts are reported, online ones queried and waited for."""
    answer: dict[str, Any] = {"host_id": host.pk, "rows": None, "query": sql, "status": HostStatus.ONLINE.value}
    if host.online_until <= timezone.now():
        answer["status"] = HostStatus.OFFLINE.value
        return answer
    try:
        query = running.query_to_run(request.user, None, sql)
    except SQLError as exc:
        raise FleetAPIError(422, "Validation Failed", str(exc), name="query") from exc
    except running.RunRefused as exc:
        raise forbidden(str(exc)) from exc
    try:
        campaign = running.start(request.user, query, {"hosts": [host.pk]})
    except campaigns.NoHostsTargeted as exc:
        raise forbidden("All Live Query results were forbidden.") from exc  # a host they see but may not query
    try:
        live_api._wait_for_answers(campaign, settings.FLEETSITE_LIVE_QUERY_REST_PERIOD)
    finally:
        campaigns.stop(campaign)
    result = CampaignResult.objects.filter(campaign=campaign, host_id=host.pk).first()
    if result is None:
        answer["error"] = TIMEOUT_ERROR
        return answer
    answer["rows"] = result.rows
    if result.error is not None:
        answer["error"] = result.error
    return answer


def _checked(request: Request) -> str:
    live_api._ensure_live_queries_enabled()
    data = FleetAPIView.validated(HostQuerySerializer, request)
    sql = data["query"].strip()
    if not sql:
        raise bad_request("query is required")
    return sql


class HostQueryView(FleetAPIView):
    """`POST /hosts/{id}/query` with `{"query": "SELECT …"}`."""

    @extend_schema(summary="Run a live query on one host and wait for its answer", request=HostQuerySerializer,
                   responses={200: HOST_QUERY})  # fmt: skip
    def post(self, request: Request, host_id: int) -> Response:
        sql = _checked(request)
        host = visible_hosts(request).filter(pk=host_id).first()
        if host is None:
            raise bad_request(f"host not found: {host_id}: {NOT_FOUND}")
        return Response(run_on_host(request, host, sql))


class HostIdentifierQueryView(FleetAPIView):
    """`POST /hosts/identifier/{identifier}/query`: hostname, uuid, osquery host id, serial or node key."""

    @extend_schema(summary="Run a live query on the host with this identifier", request=HostQuerySerializer,
                   responses={200: HOST_QUERY})  # fmt: skip
    def post(self, request: Request, identifier: str) -> Response:
        sql = _checked(request)
        match = (
            Q(hostname=identifier)
            | Q(uuid=identifier)
            | Q(osquery_host_id=identifier)
            | Q(hardware_serial=identifier)
            | Q(node_key_digest=digest(identifier))
        )
        host = visible_hosts(request).filter(match).order_by("id").first()
        if host is None:
            raise bad_request(f"host not found: {identifier}: {NOT_FOUND}")
        return Response(run_on_host(request, host, sql))


def result_store_error() -> FleetAPIError | None:
    """503 while live-query results cannot travel (the channel layer's Redis does not answer)."""
    if live.available():
        return None
    return FleetAPIError(503, "Live queries are unavailable", "result store unavailable: Redis is unreachable")


class ResultStoreStatusView(FleetAPIView):
    """`GET /status/result_store`: `{}` when live-query results can be carried."""

    @extend_schema(summary="Whether the live-query result store works",
                   responses={200: EMPTY, 503: FleetErrorSerializer})  # fmt: skip
    def get(self, request: Request) -> Response:
        error = result_store_error()
        if error is not None:
            raise error
        return Response({})


class LiveQueryStatusView(FleetAPIView):
    """`GET /status/live_query`: `{}` when live queries are enabled and their results can be carried."""

    @extend_schema(summary="Whether live queries work", responses={200: EMPTY, 403: FleetErrorSerializer,
                   503: FleetErrorSerializer})  # fmt: skip
    def get(self, request: Request) -> Response:
        if FleetConfig.load().live_query_disabled:
            raise forbidden("disabled by administrator")
        error = result_store_error()
        if error is not None:
            raise error
        return Response({})
