"""Sessions, required password resets and e-mail change confirmation (Fleet's users.go, sessions.go).

Sessions are the `AuthToken` rows of kind session (API tokens are not sessions). Fleet's rule:
a global admin reads and ends anyone's sessions, every user their own; anyone else's is a 403.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions, services, tokens
from accounts.api.teams import invalid
from accounts.api.views import available_teams, user_json
from accounts.choices import TokenKind
from accounts.models import AuthToken, User
from accounts.permissions import Action, Kind
from accounts.throttles import LoginIPThrottle
from activities import types
from activities.record import record
from fleetsite.api.errors import forbidden, not_found
from fleetsite.api.schema import EMPTY, envelope, single
from fleetsite.api.views import FleetAPIView
from hosts.api.serializers import rfc3339
from mfa import api as mfa_api
from mfa import sessions as user_sessions

SESSION_INFO = envelope(
    "SessionInfo",
    session_id=serializers.IntegerField(),
    user_id=serializers.IntegerField(),
    created_at=serializers.CharField(),
)


def session_json(token: AuthToken) -> dict[str, Any]:
    """Fleet's getInfoAboutSessionResponse: no key, no expiry, just who and since when."""
    return {"session_id": token.pk, "user_id": token.user_id, "created_at": rfc3339(token.created_at)}


def live_sessions() -> QuerySet[AuthToken]:
    """Login sessions that still work (Fleet validates each before showing it)."""
    return AuthToken.objects.filter(kind=TokenKind.SESSION, expires_at__gt=timezone.now())


def _may_touch_sessions_of(request: Request, user_id: int, action: Action) -> bool:
    """Global admins reach everyone's sessions; a user reaches their own."""
    return user_id == request.user.pk or permissions.can(request.user, action, Kind.USER)


class SessionDetailView(FleetAPIView):
    """`GET/DELETE /sessions/{id}`: look at or end one login session."""

    def _session(self, request: Request, session_id: int, action: Action) -> AuthToken:
        token = live_sessions().filter(pk=session_id).first()
        if token is None:
            raise not_found(f"Session {session_id} was not found in the datastore")
        if not _may_touch_sessions_of(request, token.user_id, action):
            raise forbidden()
        return token

    @extend_schema(summary="Get a session", responses={200: SESSION_INFO})
    def get(self, request: Request, session_id: int) -> Response:
        return Response(session_json(self._session(request, session_id, Action.READ)))

    @extend_schema(summary="End a session", responses={200: EMPTY})
    def delete(self, request: Request, session_id: int) -> Response:
        self._session(request, session_id, Action.WRITE).delete()
        return Response({})


class UserSessionsView(FleetAPIView):
    """`GET/DELETE /users/{id}/sessions`: a user's live sessions, or log them out everywhere."""

    @extend_schema(
        summary="A user's sessions",
        responses={200: envelope("SessionList", sessions=serializers.ListField(child=serializers.DictField()))},
    )
    def get(self, request: Request, user_id: int) -> Response:
        if not _may_touch_sessions_of(request, user_id, Action.READ):
            raise forbidden()
        rows = live_sessions().filter(user_id=user_id).order_by("created_at", "id")
        return Response({"sessions": [session_json(token) for token in rows]})

    @extend_schema(summary="End all of a user's sessions (REST logins and web UI logins)", responses={200: EMPTY})
    def delete(self, request: Request, user_id: int) -> Response:
        if not _may_touch_sessions_of(request, user_id, Action.WRITE):
            raise forbidden()
        user = User.objects.filter(pk=user_id).first()
        if user is None:
            raise not_found(f"User {user_id} was not found in the datastore")
        user_sessions.end_all(request.user, user)
        return Response({})


class SessionCreateSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=4096, required=False, allow_blank=True, default="")
    code = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class SessionCreateView(FleetAPIView):
    """`POST /sessions`: Fleet's second MFA step, completing a login `POST /login` answered with 202.

    Fleet's token comes from an e-mailed link; ours is the 202 answer's `mfa_token`, sent with
    `code` (the authenticator's current code or a recovery code). A wrong, reused or missing code,
    an unknown or expired token: 401 "Authentication failed", no sooner than the login failure
    delay (mfa.api, mfa.challenge).
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    # A login attempt like POST /login: the same per-address budget.
    throttle_classes = [LoginIPThrottle]

    @extend_schema(
        summary="Finish an MFA login",
        request=SessionCreateSerializer,
        responses={
            200: envelope(
                "LoginResult",
                user=serializers.DictField(),
                available_teams=serializers.ListField(child=serializers.DictField()),
                token=serializers.CharField(),
            ),
            401: None,
        },
    )
    def post(self, request: Request) -> Response:
        data = self.validated(SessionCreateSerializer, request)
        user, method = mfa_api.complete_login(request, data["token"], data["code"])
        token = tokens.issue_session(user)
        record(user, types.USER_LOGGED_IN, {"public_ip": getattr(request, "client_ip", ""), "mfa": method})
        return Response({"user": user_json(user), "available_teams": available_teams(user), "token": token})


class RequirePasswordResetSerializer(serializers.Serializer):
    require = serializers.BooleanField()


class RequirePasswordResetView(FleetAPIView):
    """`POST /users/{id}/require_password_reset` (admins): the user must set a new password at next login."""

    @extend_schema(
        summary="Require a password reset",
        request=RequirePasswordResetSerializer,
        responses={200: single("UserDetail", "user")},
    )
    def post(self, request: Request, user_id: int) -> Response:
        self.require(request, Action.WRITE, Kind.USER)
        user = User.objects.filter(pk=user_id).first()
        if user is None:
            raise not_found(f"User {user_id} was not found in the datastore")
        data = self.validated(RequirePasswordResetSerializer, request)
        services.require_password_reset(user, data["require"])
        return Response({"user": user_json(user)})


class PerformRequiredPasswordResetSerializer(serializers.Serializer):
    new_password = serializers.CharField(max_length=4096, trim_whitespace=False)


class PerformRequiredPasswordResetView(FleetAPIView):
    """`POST /perform_required_password_reset`: the flagged user, logged in, sets a new password.

    The one endpoint a flagged user may call (Fleet registers it outside its authenticated set;
    without a user it answers 403, not 401).
    """

    allowed_during_password_reset = True
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Set the password an admin required",
        request=PerformRequiredPasswordResetSerializer,
        responses={200: single("UserDetail", "user")},
    )
    def post(self, request: Request) -> Response:
        user = request.user
        if not getattr(user, "is_authenticated", False) or not user.force_password_reset:
            raise forbidden("cannot reset password")
        if not permissions.may_change_own_account(user):
            raise forbidden("an API token with a role cannot change its owner's password; log in to do that")
        data = self.validated(PerformRequiredPasswordResetSerializer, request)
        try:
            services.perform_required_password_reset(user, data["new_password"])
        except services.InvalidInput as exc:
            raise invalid(exc) from exc
        return Response({"user": user_json(user)})


class EmailChangeConfirmView(FleetAPIView):
    """`GET /email/change/{token}`: the logged-in user confirms the change mailed to their new address."""

    @extend_schema(
        summary="Confirm an email change", responses={200: envelope("EmailChanged", new_email=serializers.CharField())}
    )
    def get(self, request: Request, token: str) -> Response:
        if not permissions.may_change_own_account(request.user):
            raise forbidden("an API token with a role cannot change its owner's account; log in to do that")
        try:
            new_email = services.confirm_email_change(request.user, token)
        except services.InvalidInput as exc:
            raise not_found(exc.reason) from exc
        return Response({"new_email": new_email})
