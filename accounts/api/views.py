"""Sessions and teams REST API (fleet-protocol §4.1, §4.3)."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import lockout, permissions, tokens
from accounts.authentication import bearer_key
from accounts.models import Team, User
from accounts.throttles import LoginEmailThrottle, LoginIPThrottle
from activities import types
from activities.record import record
from fleetsite.api.errors import FleetAPIError
from fleetsite.api.schema import EMPTY, envelope
from fleetsite.api.views import FleetAPIView
from hosts.api.serializers import rfc3339
from mfa import api as mfa_api
from sso import policy as sso_policy
from sso.users import is_sso_user


def user_json(user: User) -> dict:
    roles = permissions.team_roles(user)
    teams = Team.objects.filter(pk__in=roles) if roles else []
    return {
        "id": user.pk,
        "name": user.name,
        "email": user.email,
        "global_role": user.global_role or None,
        "api_only": user.api_only,
        "sso_enabled": is_sso_user(user),
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
    # The client can do a second step (mfa.api): ours, and Fleet's name for it.
    supports_mfa = serializers.BooleanField(required=False, default=False)
    supports_email_verification = serializers.BooleanField(required=False, default=False)


@extend_schema_view(
    post=extend_schema(
        summary="Log in",
        request=LoginSerializer,
        responses={
            200: envelope(
                "LoginResult",
                user=serializers.DictField(),
                available_teams=serializers.ListField(child=serializers.DictField()),
                token=serializers.CharField(),
            ),
            202: envelope(
                "LoginSecondStep",
                message=serializers.CharField(),
                mfa_token=serializers.CharField(),
                mfa_methods=serializers.ListField(child=serializers.CharField()),
            ),
        },
    )
)
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
        if user is not None and sso_policy.password_refusal(user) is not None:
            user = None  # Fleet: "password login disabled for sso users", answered as any failure
        if user is None or not user.is_active:
            known = User.objects.filter(email=email).first()
            record(known, types.USER_FAILED_LOGIN, {"email": email, "public_ip": getattr(request, "client_ip", "")})
            # Fleet answers failures no sooner than a fixed delay, so timing tells nothing.
            remaining = settings.FLEETSITE_LOGIN_FAILURE_DELAY - (time.monotonic() - started)
            if remaining > 0:
                time.sleep(remaining)
            if lockout.was_locked_out(request):
                raise exceptions.Throttled(wait=lockout.retry_after(request), detail=lockout.lockout_message(request))
            raise FleetAPIError(401, "Authentication failed", "Authentication failed")
        second_step = mfa_api.login_gate(request, user)
        if second_step is not None:
            return second_step  # 202: the session comes from POST /sessions with the code
        token = tokens.issue_session(user)
        record(user, types.USER_LOGGED_IN, {"public_ip": getattr(request, "client_ip", "")})
        return Response({"user": user_json(user), "available_teams": available_teams(user), "token": token})


@extend_schema_view(
    post=extend_schema(summary="Log out (ends the bearer token's session)", request=None, responses={200: EMPTY})
)
class LogoutView(FleetAPIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        key = bearer_key(request)
        if key:
            tokens.revoke(key)
        return Response({})


def ui_settings_json(request: Request, user: User) -> dict:
    """`{"settings": {...}}` when the request asks `include_ui_settings=true`, as Fleet's /me and /users/{id}."""
    if request.query_params.get("include_ui_settings", "").lower() not in ("1", "true"):
        return {}
    return {"settings": {"hidden_host_columns": list(user.ui_settings.get("hidden_host_columns", []))}}


@extend_schema_view(
    get=extend_schema(
        summary="The current user",
        responses={
            200: envelope(
                "CurrentUser",
                user=serializers.DictField(),
                available_teams=serializers.ListField(child=serializers.DictField()),
                settings=serializers.DictField(required=False),
            )
        },
        parameters=[OpenApiParameter("include_ui_settings", bool)],
    )
)
class MeView(FleetAPIView):
    def get(self, request: Request) -> Response:
        user = request.user
        return Response(
            {"user": user_json(user), "available_teams": available_teams(user), **ui_settings_json(request, user)}
        )


# Teams moved to their own module; these names stay importable from here.
from accounts.api.teams import TeamListView, get_team, team_json  # noqa: E402, F401
