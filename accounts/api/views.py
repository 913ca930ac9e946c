"""Sessions and teams REST API (fleet-protocol §4.1, §4.3)."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.db.models import Count
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions, tokens
from accounts.authentication import bearer_key
from accounts.models import Team, User
from accounts.throttles import LoginEmailThrottle, LoginIPThrottle
from fleetsite.api.errors import FleetAPIError, conflict, not_found
from fleetsite.api.views import FleetAPIView
from fleetsite.models import FleetConfig
from hosts.api.serializers import rfc3339


def user_json(user: User) -> dict:
    roles = permissions.team_roles(user)
    teams = Team.objects.filter(pk__in=roles) if roles else []
    return {
        "id": user.pk,
        "name": user.name,
        "email": user.email,
        "global_role": user.global_role or None,
        "api_only": user.api_only,
        "sso_enabled": False,
        "mfa_enabled": False,
        "force_password_reset": user.force_password_reset,
        "gravatar_url": "",
        "teams": [{"id": t.pk, "name": t.name, "description": t.description, "role": roles[t.pk]} for t in teams],
        "created_at": rfc3339(user.created_at),
        "updated_at": rfc3339(user.updated_at),
    }


def available_teams(user: User) -> list[dict]:
    teams = permissions.scope_to_teams(Team.objects.all(), user, "id")
    return [{"id": team.pk, "name": team.name, "description": team.description} for team in teams]


class LoginSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class LoginView(FleetAPIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginIPThrottle, LoginEmailThrottle]

    def post(self, request: Request) -> Response:
        started = time.monotonic()
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        email = serializer.validated_data["email"].strip().lower()
        user = authenticate(request, username=email, password=serializer.validated_data["password"])
        if user is None or not user.is_active:
            # Fleet answers failures no sooner than a fixed delay, so timing tells nothing.
            remaining = settings.FLEETSITE_LOGIN_FAILURE_DELAY - (time.monotonic() - started)
            if remaining > 0:
                time.sleep(remaining)
            raise FleetAPIError(401, "Authentication failed", "Authentication failed")
        token = tokens.issue_session(user)
        return Response({"user": user_json(user), "available_teams": available_teams(user), "token": token})


class LogoutView(FleetAPIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        key = bearer_key(request)
        if key:
            tokens.revoke(key)
        return Response({})


class MeView(FleetAPIView):
    def get(self, request: Request) -> Response:
        return Response({"user": user_json(request.user), "available_teams": available_teams(request.user)})


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
        "features": FleetConfig.load().features,
    }


class TeamSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="")

    def validate_name(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("team name cannot be empty")
        return value


class TeamListView(FleetAPIView):
    def get(self, request: Request) -> Response:
        teams = (
            permissions.scope_to_teams(Team.objects.all(), request.user, "id")
            .annotate(n_hosts=Count("hosts", distinct=True), n_users=Count("memberships", distinct=True))
            .prefetch_related("secrets")
        )
        visible = [team_json(team, team.n_hosts, team.n_users) for team in teams]
        # Observers, global ones included, never see secrets: a secret enrolls hosts.
        for team, data in zip(teams, visible, strict=True):
            if not permissions.can_manage_team_secrets(request.user, team.pk):
                data["secrets"] = []
        return Response({"teams": visible, "fleets": visible})

    def post(self, request: Request) -> Response:
        if not permissions.is_global_admin(request.user):
            raise FleetAPIError(403, "Permission Denied", "forbidden")
        serializer = TeamSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        name = serializer.validated_data["name"]
        with transaction.atomic():
            if Team.objects.filter(name__iexact=name).exists():
                raise conflict(f"a team named {name!r} already exists")
            team = Team.objects.create(name=name, description=serializer.validated_data["description"])
        return Response({"team": team_json(team), "fleet": team_json(team)})


def get_team(request: Request, team_id: int) -> Team:
    team = Team.objects.filter(pk=team_id).first()
    if team is None or not permissions.can_read_team(request.user, team.pk):
        raise not_found(f"Team {team_id} was not found in the datastore")
    return team
