"""Teams, team members and team agent options REST API (fleet-protocol §4.3)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Count
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions, services
from accounts.choices import Role
from accounts.models import Team, User
from accounts.permissions import Action, Kind
from fleetsite import appconfig
from fleetsite.api.errors import FleetAPIError, bad_request, conflict, forbidden, not_found, validation_failed
from fleetsite.api.fields import ObjectIdField
from fleetsite.api.schema import EMPTY, envelope, listing
from fleetsite.api.views import FleetAPIView, flag
from fleetsite.models import FleetConfig
from hosts.api.serializers import rfc3339
from webhooks import config as automations


def team_json(team: Team, host_count: int = 0, user_count: int = 0) -> dict:
    return {
        "id": team.pk,
        "name": team.name,
        "description": team.description,
        "host_count": host_count,
        "user_count": user_count,
        "agent_options": team.agent_options,
        "secrets": [
            {"secret": secret.secret, "created_at": rfc3339(secret.created_at), "team_id": team.pk}
            for secret in team.secrets.all()
        ],
        "created_at": rfc3339(team.created_at),
        # A team spec's features win over the global ones (Fleet keeps features per team).
        "features": {**(FleetConfig.load().features or {}), **((team.spec_settings or {}).get("features") or {})},
        **automations.team_json(team.spec_settings),
    }


# `{"team": …, "fleet": …}`: Fleet's new name for teams is sent beside the old one.
TEAM_BODY = envelope("TeamDetail", team=serializers.DictField(), fleet=serializers.DictField())


def team_body(request: Request, team: Team) -> dict[str, Any]:
    """`{"team": …, "fleet": …}` with counts, and secrets only for those who manage them."""
    counted = Team.objects.filter(pk=team.pk).annotate(
        n_hosts=Count("hosts", distinct=True), n_users=Count("memberships", distinct=True)
    )
    team = counted.prefetch_related("secrets").first() or team
    data = team_json(team, getattr(team, "n_hosts", 0), getattr(team, "n_users", 0))
    if not permissions.can_manage_team_secrets(request.user, team.pk):
        data["secrets"] = []
    return {"team": data, "fleet": data}


def get_team(request: Request, team_id: int) -> Team:
    team = Team.objects.filter(pk=team_id).first()
    if team is None or not permissions.can_read_team(request.user, team.pk):
        raise not_found(f"Team {team_id} was not found in the datastore")
    return team


def invalid(exc: services.InvalidInput) -> FleetAPIError:
    """A service-layer input error as Fleet's 422; duplicates are Fleet's 409."""
    if "already exists" in exc.reason:
        return conflict(exc.reason)
    return validation_failed(exc.field, exc.reason)


class TeamSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class TeamPatchSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255, required=False)
    description = serializers.CharField(required=False, allow_blank=True)


@extend_schema_view(
    get=extend_schema(
        summary="List teams",
        responses={
            200: envelope(
                "TeamList",
                teams=serializers.ListField(child=serializers.DictField()),
                fleets=serializers.ListField(child=serializers.DictField()),
            )
        },
    ),
    post=extend_schema(summary="Create a team", request=TeamSerializer, responses={200: TEAM_BODY}),
)
class TeamListView(FleetAPIView):
    def get(self, request: Request) -> Response:
        teams = (
            permissions.scope_to_teams(Team.objects.all(), request.user, "id")
            .annotate(n_hosts=Count("hosts", distinct=True), n_users=Count("memberships", distinct=True))
            .prefetch_related("secrets")
        )
        query = request.query_params.get("query", "").strip()
        if query:
            teams = teams.filter(name__icontains=query)
        visible = [team_json(team, team.n_hosts, team.n_users) for team in teams]
        # Observers, global ones included, never see secrets: a secret enrolls hosts.
        for team, data in zip(teams, visible, strict=True):
            if not permissions.can_manage_team_secrets(request.user, team.pk):
                data["secrets"] = []
        return Response({"teams": visible})

    def post(self, request: Request) -> Response:
        if not permissions.is_global_admin(request.user):
            raise forbidden()
        data = self.validated(TeamSerializer, request)
        try:
            team = services.create_team(request.user, data["name"], data["description"])
        except services.InvalidInput as exc:
            raise invalid(exc) from exc
        return Response(team_body(request, team))


@extend_schema_view(
    get=extend_schema(summary="Get a team", responses={200: TEAM_BODY}),
    patch=extend_schema(
        summary="Rename or describe a team; change its webhook_settings and integrations",
        request=TeamPatchSerializer,
        responses={200: TEAM_BODY},
    ),
    delete=extend_schema(summary="Delete a team (its hosts move to no team)", responses={200: EMPTY}),
)
class TeamDetailView(FleetAPIView):
    def get(self, request: Request, team_id: int) -> Response:
        return Response(team_body(request, get_team(request, team_id)))

    def patch(self, request: Request, team_id: int) -> Response:
        team = get_team(request, team_id)
        self.require(request, Action.WRITE, Kind.TEAM, team.pk)
        data = self.validated(TeamPatchSerializer, request)
        try:
            with transaction.atomic():
                if "webhook_settings" in request.data or "integrations" in request.data:
                    # Fleet's team payload: webhook_settings and integrations are checked and merged as for /config.
                    team.spec_settings = automations.apply_team(team.spec_settings, request.data)
                services.update_team(request.user, team, data.get("name"), data.get("description"))
        except automations.BadInput as exc:
            raise bad_request(exc.reason) from exc
        except services.InvalidInput as exc:
            raise invalid(exc) from exc
        return Response(team_body(request, team))

    def delete(self, request: Request, team_id: int) -> Response:
        team = get_team(request, team_id)
        if not permissions.is_global_admin(request.user):
            raise forbidden()
        services.delete_team(request.user, team)
        return Response({})


class TeamAgentOptionsView(FleetAPIView):
    """`POST /teams/{id}/agent_options`: the body is the agent options (`?force=true` skips checks)."""

    @extend_schema(summary="Replace a team's agent options", request=dict, responses={200: dict})
    def post(self, request: Request, team_id: int) -> Response:
        team = get_team(request, team_id)
        self.require(request, Action.WRITE, Kind.TEAM, team.pk)
        try:
            if flag(request, "dry_run"):
                appconfig._checked_options(request.data, flag(request, "force"))
            else:
                appconfig.set_team_agent_options(request.user, team, request.data, flag(request, "force"))
        except services.InvalidInput as exc:
            raise invalid(exc) from exc
        return Response(team_body(request, team))


class MemberSerializer(serializers.Serializer):
    id = ObjectIdField()
    role = serializers.ChoiceField(choices=Role.choices, required=False)


class MembersSerializer(serializers.Serializer):
    users = MemberSerializer(many=True, allow_empty=False)


def member_json(user: User, role: str) -> dict[str, Any]:
    return {
        "id": user.pk,
        "name": user.name,
        "email": user.email,
        "role": role,
        "api_only": user.api_only,
        "global_role": None,
        "created_at": rfc3339(user.created_at),
    }


@extend_schema_view(
    get=extend_schema(summary="A team's users and their roles", responses={200: listing("TeamUserList", "users")}),
    patch=extend_schema(
        summary="Add users to a team or change their role", request=MembersSerializer, responses={200: TEAM_BODY}
    ),
    delete=extend_schema(summary="Remove users from a team", request=MembersSerializer, responses={200: TEAM_BODY}),
)
class TeamUsersView(FleetAPIView):
    def get(self, request: Request, team_id: int) -> Response:
        team = get_team(request, team_id)
        members = team.memberships.select_related("user").order_by("user__email")
        return Response({"users": [member_json(m.user, m.role) for m in members]})

    def patch(self, request: Request, team_id: int) -> Response:
        team = get_team(request, team_id)
        self.require(request, Action.WRITE, Kind.TEAM, team.pk)
        data = self.validated(MembersSerializer, request)
        if any("role" not in member for member in data["users"]):
            raise validation_failed("users", "every user needs a role")
        try:
            services.set_team_members(request.user, team, [(m["id"], m["role"]) for m in data["users"]])
        except services.InvalidInput as exc:
            raise invalid(exc) from exc
        return Response(team_body(request, team))

    def delete(self, request: Request, team_id: int) -> Response:
        team = get_team(request, team_id)
        self.require(request, Action.WRITE, Kind.TEAM, team.pk)
        data = self.validated(MembersSerializer, request)
        try:
            services.remove_team_members(request.user, team, [m["id"] for m in data["users"]])
        except services.InvalidInput as exc:
            raise invalid(exc) from exc
        return Response(team_body(request, team))
