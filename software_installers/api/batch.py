"""`POST /software/batch` and `GET /software/batch/{request_uuid}`: what `fleetctl gitops` uses."""

from __future__ import annotations

from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions
from accounts.models import Team
from fleetsite.api.errors import FleetAPIError, forbidden, not_found
from fleetsite.api.schema import envelope
from fleetsite.api.views import FleetAPIView, flag
from scripts.api.views import team_param
from software_installers import batch

PARAMS = [OpenApiParameter("team_id", int), OpenApiParameter("team_name", str), OpenApiParameter("dry_run", bool)]


def batch_team(request: Request) -> Team | None:
    """The team named by `team_id` or `team_name` (neither: no team), checked for write."""
    team_id, name = team_param(request), request.query_params.get("team_name")
    if team_id is not None and name:
        raise FleetAPIError(422, "Validation Failed", "cannot specify both team_id and team_name", name="team_name")
    team = None
    if team_id is not None or name:
        team = Team.objects.filter(Q(pk=team_id) if team_id is not None else Q(name=name)).first()
        if team is None or not permissions.can_read_team(request.user, team.pk):
            raise not_found(f"Team {team_id or name} was not found in the datastore")
    if not permissions.can(request.user, "write", permissions.Kind.INSTALLER, team.pk if team else None):
        raise forbidden()
    return team


class BatchView(FleetAPIView):
    @extend_schema(
        summary="Set a team's software packages (gitops)",
        parameters=PARAMS,
        request=dict,
        responses={202: envelope("SoftwareBatchStarted", request_uuid=serializers.CharField())},
    )
    def post(self, request: Request) -> Response:
        team = batch_team(request)
        items = request.data.get("software", []) if isinstance(request.data, dict) else None
        request_uuid = batch.apply(request.user, team, items, flag(request, "dry_run"))
        return Response({"request_uuid": request_uuid}, status=202)


class BatchStatusView(FleetAPIView):
    @extend_schema(
        summary="The outcome of a software batch",
        parameters=PARAMS[:2],
        responses={
            200: envelope(
                "SoftwareBatchStatus",
                status=serializers.CharField(),
                message=serializers.CharField(),
                packages=serializers.ListField(child=serializers.DictField()),
            )
        },
    )
    def get(self, request: Request, request_uuid: str) -> Response:
        team = batch_team(request)
        outcome = batch.status(request_uuid)
        if outcome is None or outcome["team_id"] != (team.pk if team else None):
            raise not_found(f"Software batch {request_uuid} was not found")
        return Response({key: outcome[key] for key in ("status", "message", "packages")})
