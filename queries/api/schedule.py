"""Fleet's global and team schedule routes (queries.scheduled), and v1's pack schedule under `/schedule`.

Fleet gave `/schedule` two meanings: under `/api/v1/` it schedules a query in a pack (now
`/packs/schedule`), from 2022-04 on it is the global schedule (v1: `/global/schedule`).
`GET /schedule/{id}` is a pack's scheduled query in every version.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from fleetsite.api.pagination import page_from
from fleetsite.api.schema import EMPTY, listing, single
from fleetsite.api.versions import is_v1
from fleetsite.api.views import FleetAPIView
from queries import saved, scheduled
from queries.api import packs as pack_views

SCHEDULED = single("ScheduledBody", "scheduled")
GLOBAL_LIST = listing("GlobalSchedule", "global_schedule")
TEAM_LIST = listing("TeamSchedule", "scheduled")


def _listed(request: Request, team_id: int | None) -> list[dict]:
    rows, _ = page_from(request).slice(scheduled.listed(request.user, team_id))
    return [scheduled.scheduled_json(query) for query in rows]


def _add(request: Request, team_id: int | None) -> Response:
    data = FleetAPIView.validated(scheduled.ScheduleSerializer, request)
    return Response({"scheduled": scheduled.scheduled_json(scheduled.add(request.user, team_id, data))})


def _modify(request: Request, team_id: int | None, query_id: int) -> Response:
    query = scheduled.in_scope(request.user, query_id, team_id)
    data = FleetAPIView.validated(scheduled.ScheduleSerializer, request)
    return Response({"scheduled": scheduled.scheduled_json(scheduled.modify(request.user, query, data))})


def _delete(request: Request, team_id: int | None, query_id: int) -> Response:
    saved.delete(request.user, [scheduled.in_scope(request.user, query_id, team_id)])
    return Response({})


class GlobalScheduleView(FleetAPIView):
    """`/global/schedule` (v1) and `/schedule` (2022-04+; a pack schedule on POST under v1)."""

    @extend_schema(summary="List the global schedule", responses={200: GLOBAL_LIST})
    def get(self, request: Request) -> Response:
        return Response({"global_schedule": _listed(request, None)})

    @extend_schema(
        summary="Schedule a global query (v1 /schedule: in a pack)",
        request=scheduled.ScheduleSerializer,
        responses={200: SCHEDULED},
    )
    def post(self, request: Request) -> Response:
        if is_v1(request) and request.path.endswith("/fleet/schedule"):
            return pack_views.schedule_in_pack(request)
        return _add(request, None)


class GlobalScheduleDetailView(FleetAPIView):
    """`/global/schedule/{id}` and `/schedule/{id}`: a scheduled global query (v1's `/schedule/{id}`: a pack's)."""

    def _pack_route(self, request: Request) -> bool:
        return "/fleet/global/" not in request.path and is_v1(request)

    @extend_schema(summary="Get a query scheduled in a pack", responses={200: SCHEDULED})
    def get(self, request: Request, scheduled_id: int) -> Response:
        return pack_views.get_in_pack(request, scheduled_id)

    @extend_schema(
        summary="Modify a scheduled global query", request=scheduled.ScheduleSerializer, responses={200: SCHEDULED}
    )
    def patch(self, request: Request, scheduled_id: int) -> Response:
        if self._pack_route(request):
            return pack_views.modify_in_pack(request, scheduled_id)
        return _modify(request, None, scheduled_id)

    @extend_schema(summary="Unschedule a global query", responses={200: EMPTY})
    def delete(self, request: Request, scheduled_id: int) -> Response:
        if self._pack_route(request):
            return pack_views.delete_in_pack(request, scheduled_id)
        return _delete(request, None, scheduled_id)


class TeamScheduleView(FleetAPIView):
    """`/fleets/{fleet_id}/schedule` (also `teams/` and `team/`); fleet 0 is the global schedule."""

    @extend_schema(summary="List a team's schedule", responses={200: TEAM_LIST})
    def get(self, request: Request, fleet_id: int) -> Response:
        return Response({"scheduled": _listed(request, fleet_id or None)})

    @extend_schema(
        summary="Schedule a global query for a team", request=scheduled.ScheduleSerializer, responses={200: SCHEDULED}
    )
    def post(self, request: Request, fleet_id: int) -> Response:
        return _add(request, fleet_id or None)


class TeamScheduleDetailView(FleetAPIView):
    @extend_schema(
        summary="Modify a team's scheduled query", request=scheduled.ScheduleSerializer, responses={200: EMPTY}
    )
    def patch(self, request: Request, fleet_id: int, report_id: int) -> Response:
        _modify(request, fleet_id or None, report_id)
        return Response({})  # Fleet answers an empty body here

    @extend_schema(summary="Unschedule a team's query", responses={200: EMPTY})
    def delete(self, request: Request, fleet_id: int, report_id: int) -> Response:
        return _delete(request, fleet_id or None, report_id)
