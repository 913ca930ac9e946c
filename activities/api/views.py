"""`GET /activities`: the feed, filtered by actor, type and time, as JSON or CSV."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from activities.feed import CSV_HEADER, activity_json, csv_row, visible_activities
from activities.filtersets import ActivityFilterSet
from fleetsite.api.csv import csv_response
from fleetsite.api.pagination import page_from
from fleetsite.api.views import FleetAPIView
from fleetsite.dbrouter import reads_from_replica


@reads_from_replica
class ActivityListView(FleetAPIView):
    """Read-only on purpose: activities are evidence, so there is no POST, PATCH or DELETE.

    Every role may read; `visible_activities` keeps team users to their teams' entries.
    """

    filterset_class = ActivityFilterSet

    @extend_schema(
        parameters=[OpenApiParameter("format", str, description="`csv` for a CSV export of every matching row")],
        responses={200: dict},
        summary="List activities",
    )
    def get(self, request: Request) -> Response | HttpResponse:
        queryset = self.filter_queryset(request, visible_activities(request.user))
        if request.query_params.get("format") == "csv":
            return csv_response("activities.csv", CSV_HEADER, (csv_row(a) for a in queryset.iterator(2000)))
        rows, meta = page_from(request).slice(queryset)
        return Response({"activities": [activity_json(a) for a in rows], "meta": meta})
