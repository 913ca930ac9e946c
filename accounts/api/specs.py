"""Spec routes of the accounts app: team specs (`/spec/teams`, also `/spec/fleets`) and user role specs."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import rolespecs, teamspecs
from fleetsite.api.errors import bad_request
from fleetsite.api.schema import EMPTY, envelope
from fleetsite.api.views import FleetAPIView, flag


class TeamSpecsView(FleetAPIView):
    """Fleet's applyTeamSpecs: `?dry_run=true` checks and writes nothing, `?force=true` skips option checks."""

    @extend_schema(
        summary="Apply team specs",
        request=dict,
        responses={200: envelope("TeamIdsByName", team_ids_by_name=serializers.DictField())},
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise bad_request("the body must be a JSON object")
        dry_run = flag(request, "dry_run") or request.data.get("dry_run") is True
        ids = teamspecs.apply(request.user, request.data.get("specs"), dry_run=dry_run, force=flag(request, "force"))
        return Response({"team_ids_by_name": ids})


class UserRoleSpecView(FleetAPIView):
    @extend_schema(summary="Apply user role specs", request=dict, responses={200: EMPTY})
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise bad_request("the body must be a JSON object")
        rolespecs.apply(request.user, request.data.get("spec"))
        return Response({})
