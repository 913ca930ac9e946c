"""Query reports REST API: `GET /queries/{id}/report` (JSON or CSV) and `GET /hosts/{id}/queries/{query_id}`."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from fleetsite.api.csv import csv_response
from fleetsite.api.errors import bad_request
from fleetsite.api.views import FleetAPIView
from hosts.api.serializers import rfc3339
from hosts.api.views import get_visible_host
from queries import reports, saved
from queries.api.queries import team_param
from queries.models import Query


class JSONOrOwnFormat(DefaultContentNegotiation):
    """`?format=csv` is ours to answer; DRF would otherwise look for a CSV renderer and 404."""

    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None) -> tuple:
        return renderers[0], renderers[0].media_type


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name, "")
    if raw == "":
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise bad_request(f"invalid {name}: {raw!r} is not an integer") from exc
    if value < 1:
        raise bad_request(f"invalid {name}: must be positive")
    return value


def report_csv(query: Query, rows: list) -> HttpResponse:
    """One line per row: host, time, then every column any row has (in first-seen order)."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(reports.columns(row.data)))
    header = ["host_name", "last_fetched", *names]
    lines = (
        [reports.host_name(row.host), rfc3339(row.last_fetched), *(reports.columns(row.data).get(n) for n in names)]
        for row in rows
    )
    return csv_response(f"report-{query.pk}.csv", header, lines)


class QueryReportView(FleetAPIView):
    content_negotiation_class = JSONOrOwnFormat

    @extend_schema(
        summary="A saved query's report: the latest rows per host",
        parameters=[
            OpenApiParameter("host_id", int, description="only this host's rows"),
            OpenApiParameter("team_id", int, description="only rows of this team's hosts"),
            OpenApiParameter("format", str, description="`csv` for a CSV export"),
        ],
        responses={200: dict},
    )
    def get(self, request: Request, query_id: int) -> Response | HttpResponse:
        query = saved.get_readable(request.user, query_id)
        output = request.query_params.get("format", "json")
        if output not in ("json", "csv"):
            raise bad_request("invalid format: must be json or csv")
        rows = reports.report_rows(request.user, query, _int_param(request, "host_id"))
        team_id = team_param(request)
        if team_id is not None:
            saved.visible_team(request.user, team_id)
            rows = rows.filter(host__team_id=team_id)
        rows = list(rows)
        if output == "csv":
            return report_csv(query, rows)
        results = [
            {
                "host_id": row.host_id,
                "host_name": reports.host_name(row.host),
                "last_fetched": rfc3339(row.last_fetched),
                "columns": reports.columns(row.data),
            }
            for row in rows
        ]
        clipped = reports.is_clipped(query)
        return Response({"query_id": query.pk, "report_id": query.pk, "results": results, "report_clipped": clipped})


class HostQueryReportView(FleetAPIView):
    @extend_schema(summary="One host's rows of a saved query's report", responses={200: dict})
    def get(self, request: Request, host_id: int, query_id: int) -> Response:
        host = get_visible_host(request, host_id)
        query = saved.get_readable(request.user, query_id)
        rows = list(reports.report_rows(request.user, query, host.pk))
        body: dict[str, Any] = {
            "query_id": query.pk,
            "report_id": query.pk,
            "host_id": host.pk,
            "host_name": reports.host_name(host),
            "last_fetched": rfc3339(max((row.last_fetched for row in rows), default=None)),
            "report_clipped": reports.is_clipped(query),
            "results": [{"columns": reports.columns(row.data)} for row in rows],
        }
        return Response(body)
