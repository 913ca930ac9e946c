"""Users, invites, passwords and API tokens REST API (fleet-protocol §4.1)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.db.models import Q
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import lockout, permissions, services, tokens
from accounts.api.teams import invalid
from accounts.api.views import ui_settings_json, user_json
from accounts.authentication import bearer_key
from accounts.choices import Role, TokenKind
from accounts.emails import send_password_reset
from accounts.models import AuthToken, Invite, User
from accounts.permissions import Action, Kind
from activities import types
from activities.record import record
from fleetsite.api.errors import conflict, forbidden, not_found, validation_failed
from fleetsite.api.fields import MAX_ID, ObjectIdField
from fleetsite.api.pagination import page_from
from fleetsite.api.schema import EMPTY, envelope, listing, single
from fleetsite.api.views import FleetAPIView
from hosts.api.serializers import rfc3339
from sso import users as sso_users

CAPPED_TOKEN_OWN_ACCOUNT = "an API token with a role cannot change its owner's account; log in to do that"


class TeamRoleSerializer(serializers.Serializer):
    id = ObjectIdField()
    role = serializers.ChoiceField(choices=Role.choices)


def _team_roles(data: dict[str, Any]) -> list[services.TeamRole]:
    return [services.TeamRole(t["id"], t["role"]) for t in data.get("teams") or []]


class UserCreateSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    global_role = serializers.ChoiceField(choices=Role.choices, required=False, allow_null=True)
    # `fleetctl user create --global-role R` sends "teams": null (a nil Go slice behind a pointer).
    teams = TeamRoleSerializer(many=True, required=False, allow_null=True)
    api_only = serializers.BooleanField(required=False, default=False)


class UISettingsSerializer(serializers.Serializer):
    """Fleet's `UserSettings`: what the UI remembers per user."""

    hidden_host_columns = serializers.ListField(child=serializers.CharField(max_length=100), max_length=200)


class UserPatchSerializer(serializers.Serializer):
    """Fleet's modify-user payload, strictly: a field we would not act on is a 422, never a silent 200.

    Fleet has no `is_active` (or any enable/disable) in this payload; deactivation stays in the
    web UI. Fleet's UI sends `sso_enabled`/`mfa_enabled` with every edit: `sso_enabled` is the
    user's SSO flag (sso.users); `mfa_enabled` off is accepted, on is refused. As in Fleet,
    `new_password` is the new password and, for your own account, `password` is the current one
    (needed to change e-mail or password); an admin may still set someone else's password with
    `password`. `gravatar_url` and `position` are profile decoration Fleet's clients send; they
    are accepted and not stored.
    """

    email = serializers.CharField(max_length=254, required=False)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, required=False)
    global_role = serializers.ChoiceField(choices=Role.choices, required=False, allow_null=True)
    teams = TeamRoleSerializer(many=True, required=False)
    api_only = serializers.BooleanField(required=False)
    new_password = serializers.CharField(max_length=4096, trim_whitespace=False, required=False)
    gravatar_url = serializers.CharField(max_length=255, required=False, allow_blank=True)
    settings = UISettingsSerializer(required=False)
    position = serializers.CharField(max_length=255, required=False, allow_blank=True)
    sso_enabled = serializers.BooleanField(required=False)
    mfa_enabled = serializers.BooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        sso_enabled = attrs.pop("sso_enabled", None)  # Fleet's per-user SSO flag (sso.users)
        initial = self.initial_data if isinstance(self.initial_data, dict) else {}
        errors = {
            name: "not a field of this request; it cannot be changed here"
            for name in initial
            if name not in self.fields
        }
        errors.update(
            {
                name: "is not supported by this server"
                for name in ("sso_enabled", "mfa_enabled")
                if attrs.pop(name, False)
            }
        )
        if errors:
            raise serializers.ValidationError(errors)
        attrs.pop("gravatar_url", None)
        attrs.pop("position", None)
        if sso_enabled is not None:
            attrs["sso_enabled"] = sso_enabled
        return attrs


def _get_user(request: Request, user_id: int) -> User:
    """Admins see everyone; others only themselves (anyone else is a 404)."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or (user.pk != request.user.pk and not permissions.can(request.user, Action.READ, Kind.USER)):
        raise not_found(f"User {user_id} was not found in the datastore")
    return user


@extend_schema_view(
    get=extend_schema(summary="List users", responses={200: listing("UserList", "users", paged=True)}),
    post=extend_schema(
        summary="Create a user from an invite", request=None, responses={200: single("UserDetail", "user")}
    ),
)
class UserListView(FleetAPIView):
    def get_permissions(self) -> list:
        # Sign-up from an invite needs no session (fleet-protocol §0.2); listing does.
        if getattr(self.request, "method", None) == "POST":
            return [AllowAny()]
        return super().get_permissions()

    def get(self, request: Request) -> Response:
        self.require(request, Action.READ, Kind.USER)
        users = User.objects.select_related("sso").prefetch_related("memberships__team").order_by("email")
        query = request.query_params.get("query", "").strip()
        if query:
            users = users.filter(Q(email__icontains=query) | Q(name__icontains=query))
        team_id = request.query_params.get("team_id")
        if team_id and team_id.isdigit():
            users = users.filter(memberships__team_id=int(team_id))
        rows, meta = page_from(request).slice(users)
        return Response({"users": [user_json(user) for user in rows], "meta": meta})

    def post(self, request: Request) -> Response:
        """Fleet's sign-up from an invite: `{email, name, password, invite_token}` without a session."""
        data = self.validated(InviteAcceptSerializer, request)
        invite = services.find_invite(data["invite_token"])
        if invite is None or invite.email != data["email"].strip().lower():
            raise validation_failed("invite_token", "invite token is invalid or has expired")
        try:
            user = services.accept_invite(invite, data.get("name", ""), data["password"])
        except services.InvalidInput as exc:
            raise invalid(exc) from exc
        return Response({"user": user_json(user)})


class InviteAcceptSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    invite_token = serializers.CharField(max_length=255)


class AdminUserCreateView(FleetAPIView):
    """`POST /users/admin`: an admin creates a user directly (API-only users get a token back)."""

    @extend_schema(summary="Create a user", request=UserCreateSerializer, responses={200: single("UserDetail", "user")})
    def post(self, request: Request) -> Response:
        self.require(request, Action.WRITE, Kind.USER)
        data = self.validated(UserCreateSerializer, request)
        try:
            user = services.create_user(
                request.user,
                data["email"],
                data["password"],
                name=data["name"],
                global_role=data.get("global_role"),
                teams=_team_roles(data),
                api_only=data["api_only"],
            )
        except services.InvalidInput as exc:
            raise invalid(exc) from exc
        body: dict[str, Any] = {"user": user_json(user)}
        if user.api_only:
            body["token"] = tokens.issue_session(user)
        return Response(body)


@extend_schema_view(
    get=extend_schema(summary="Get a user", responses={200: single("UserDetail", "user")}),
    patch=extend_schema(
        summary="Change a user", request=UserPatchSerializer, responses={200: single("UserDetail", "user")}
    ),
    delete=extend_schema(summary="Delete a user", responses={200: EMPTY}),
)
class UserDetailView(FleetAPIView):
    def get(self, request: Request, user_id: int) -> Response:
        user = _get_user(request, user_id)
        return Response({"user": user_json(user), **ui_settings_json(request, user)})

    def patch(self, request: Request, user_id: int) -> Response:
        user = _get_user(request, user_id)
        data = dict(self.validated(UserPatchSerializer, request))
        is_admin = permissions.can(request.user, Action.WRITE, Kind.USER)
        if not is_admin and ({"global_role", "teams", "api_only"} & set(data) or user.pk != request.user.pk):
            raise forbidden()
        if user.pk == request.user.pk and not permissions.may_change_own_account(request.user):
            raise forbidden(CAPPED_TOKEN_OWN_ACCOUNT)
        own = user.pk == request.user.pk
        sso_enabled = sso_users.checked_sso_flag(user, data.pop("sso_enabled", None), is_admin)
        new_password = data.pop("new_password", None)
        if own:
            current = data.pop("password", None)
            if ("email" in data or new_password) and not user.check_password(current or ""):
                raise validation_failed("password", "your current password is needed to change your email or password")
            if current is not None and not ("email" in data or new_password):
                raise validation_failed(
                    "new_password", "password is your current password; send new_password to change it"
                )
        if new_password is not None:
            data["password"] = new_password
        if "teams" in data:
            data["teams"] = _team_roles(data)
        # Fleet: a new email is only pending until the token mailed to it comes back (GET /email/change/{token}).
        new_email = data.pop("email", None)
        if new_email is not None and new_email.strip().lower() == user.email:
            new_email = None
        try:
            with transaction.atomic():  # all of the PATCH or none of it
                services.update_user(request.user, user, data)
                if sso_enabled is not None:
                    sso_users.set_sso_enabled(user, sso_enabled)
                if new_email is not None:
                    services.request_email_change(user, new_email, request.build_absolute_uri("/"))
        except services.AlreadyExists as exc:
            raise conflict(exc.reason) from exc
        except services.InvalidInput as exc:
            raise invalid(exc) from exc
        if "password" in data:
            tokens.revoke_sessions(user, keep=bearer_key(request) if own else "")
        return Response({"user": user_json(User.objects.get(pk=user.pk))})

    def delete(self, request: Request, user_id: int) -> Response:
        user = _get_user(request, user_id)
        self.require(request, Action.WRITE, Kind.USER)
        try:
            services.delete_user(request.user, user)
        except services.InvalidInput as exc:
            raise invalid(exc) from exc
        return Response({})


class ChangePasswordSerializer(serializers.Serializer):
    old_password = serializers.CharField(max_length=4096, trim_whitespace=False)
    new_password = serializers.CharField(max_length=4096, trim_whitespace=False)


class ChangePasswordView(FleetAPIView):
    """`POST /change_password`; other sessions of the user end, this one stays."""

    @extend_schema(summary="Change your password", request=ChangePasswordSerializer, responses={200: EMPTY})
    def post(self, request: Request) -> Response:
        data = self.validated(ChangePasswordSerializer, request)
        if not permissions.may_change_own_account(request.user):
            raise forbidden(CAPPED_TOKEN_OWN_ACCOUNT)
        try:
            services.change_password(request.user, data["old_password"], data["new_password"])
        except services.InvalidInput as exc:
            raise invalid(exc) from exc
        tokens.revoke_sessions(request.user, keep=bearer_key(request))
        return Response({})


class ForgotPasswordSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)


class ForgotPasswordView(FleetAPIView):
    """`POST /forgot_password`: always `{}`, so it cannot tell who has an account."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(summary="Email a password reset link", request=ForgotPasswordSerializer, responses={200: EMPTY})
    def post(self, request: Request) -> Response:
        data = self.validated(ForgotPasswordSerializer, request)
        if not lockout.check_reset_request(request, data["email"]):
            raise exceptions.Throttled(wait=lockout.retry_after(request), detail=lockout.lockout_message(request))
        user = User.objects.filter(email=data["email"].strip().lower(), is_active=True, api_only=False).first()
        if user is not None:
            send_password_reset(user, request.build_absolute_uri("/"))
        return Response({})


class ResetPasswordSerializer(serializers.Serializer):
    password_reset_token = serializers.CharField(max_length=255)
    new_password = serializers.CharField(max_length=4096, trim_whitespace=False)


def user_for_reset_token(token: str) -> User | None:
    """The user of a `<uidb64>-<token>` reset token (the link's last two parts), if still valid."""
    uidb64, _, key = token.partition(":")
    try:
        user = User.objects.filter(pk=int(force_str(urlsafe_base64_decode(uidb64)))).first()
    except (ValueError, TypeError, OverflowError):
        return None
    if user is None or not default_token_generator.check_token(user, key):
        return None
    return user


class ResetPasswordView(FleetAPIView):
    """`POST /reset_password` with `{password_reset_token: "<uidb64>:<token>", new_password}`."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Set a new password with a reset token", request=ResetPasswordSerializer, responses={200: EMPTY}
    )
    def post(self, request: Request) -> Response:
        data = self.validated(ResetPasswordSerializer, request)
        user = user_for_reset_token(data["password_reset_token"])
        if user is None:
            raise validation_failed("password_reset_token", "reset token is invalid or has expired")
        try:
            services.clean_password(data["new_password"], user, "new_password")
        except services.InvalidInput as exc:
            raise invalid(exc) from exc
        user.set_password(data["new_password"])
        user.force_password_reset = False
        user.save()
        tokens.revoke_sessions(user)
        record(user, types.RESET_PASSWORD, {"user_id": user.pk, "user_email": user.email})
        return Response({})


def invite_json(invite: Invite) -> dict[str, Any]:
    return {
        "id": invite.pk,
        "email": invite.email,
        "name": invite.name,
        "global_role": invite.global_role or None,
        "teams": invite.teams,
        "invited_by": invite.invited_by_id,
        "sso_enabled": False,
        "mfa_enabled": False,
        "created_at": rfc3339(invite.created_at),
        "updated_at": rfc3339(invite.updated_at),
        "expires_at": rfc3339(invite.expires_at),
    }


class InviteSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    global_role = serializers.ChoiceField(choices=Role.choices, required=False, allow_null=True)
    teams = TeamRoleSerializer(many=True, required=False)


@extend_schema_view(
    get=extend_schema(summary="Pending invites", responses={200: listing("InviteList", "invites", paged=True)}),
    post=extend_schema(
        summary="Invite a user by email", request=InviteSerializer, responses={200: single("InviteDetail", "invite")}
    ),
)
class InviteListView(FleetAPIView):
    def get(self, request: Request) -> Response:
        self.require(request, Action.READ, Kind.INVITE)
        rows, meta = page_from(request).slice(Invite.objects.all())
        return Response({"invites": [invite_json(invite) for invite in rows], "meta": meta})

    def post(self, request: Request) -> Response:
        self.require(request, Action.WRITE, Kind.INVITE)
        data = self.validated(InviteSerializer, request)
        try:
            invite, _ = services.create_invite(
                request.user,
                data["email"],
                data["name"],
                data.get("global_role"),
                _team_roles(data),
                base_url=request.build_absolute_uri("/"),
            )
        except services.InvalidInput as exc:
            raise invalid(exc) from exc
        return Response({"invite": invite_json(invite)})


class InvitePatchSerializer(serializers.Serializer):
    """Fleet's InvitePayload; every key optional. `sso_enabled`/`mfa_enabled` off is accepted, on refused."""

    email = serializers.CharField(max_length=254, required=False)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    global_role = serializers.ChoiceField(choices=Role.choices, required=False, allow_null=True)
    teams = TeamRoleSerializer(many=True, required=False, allow_null=True)
    position = serializers.CharField(max_length=255, required=False, allow_blank=True)
    sso_enabled = serializers.BooleanField(required=False)
    mfa_enabled = serializers.BooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors = {
            name: "is not supported by this server" for name in ("sso_enabled", "mfa_enabled") if attrs.pop(name, False)
        }
        if errors:
            raise serializers.ValidationError(errors)
        attrs.pop("position", None)
        return attrs


class InviteView(FleetAPIView):
    """`/invites/{key}`: GET looks up a link token without a session (the sign-up page, fleet-protocol
    §0.2); PATCH edits and DELETE removes a pending invite by id. One route, as in Fleet: Django matches paths
    before methods, so two routes would answer a digit-only token or a word id with a 405."""

    def _is_lookup(self) -> bool:
        return getattr(self.request, "method", None) == "GET"  # no request while the schema is generated

    def get_authenticators(self) -> list:
        return [] if self._is_lookup() else super().get_authenticators()

    def get_permissions(self) -> list:
        return [AllowAny()] if self._is_lookup() else super().get_permissions()

    @extend_schema(
        summary="Look up an invite by its link token",
        parameters=[OpenApiParameter("key", str, OpenApiParameter.PATH, description="the invite link token")],
        responses={200: single("InviteDetail", "invite")},
        auth=[],
    )
    def get(self, request: Request, key: str) -> Response:
        invite = services.find_invite(key)
        if invite is None:
            raise not_found("Invite token is invalid or has expired")
        return Response({"invite": invite_json(invite)})

    @extend_schema(
        summary="Edit a pending invite",
        parameters=[OpenApiParameter("key", int, OpenApiParameter.PATH, description="the invite id")],
        request=InvitePatchSerializer,
        responses={200: single("InviteDetail", "invite")},
    )
    def patch(self, request: Request, key: str) -> Response:
        self.require(request, Action.WRITE, Kind.INVITE)
        invite = self._by_id(key)
        data = dict(self.validated(InvitePatchSerializer, request))
        if "teams" in data:
            data["teams"] = _team_roles(data)
        try:
            services.update_invite(invite, data)
        except services.AlreadyExists as exc:
            raise conflict(exc.reason) from exc
        except services.InvalidInput as exc:
            raise invalid(exc) from exc
        return Response({"invite": invite_json(invite)})

    @staticmethod
    def _by_id(key: str) -> Invite:
        invite = Invite.objects.filter(pk=int(key)).first() if key.isdigit() and int(key) <= MAX_ID else None
        if invite is None:
            raise not_found(f"Invite {key} was not found in the datastore")
        return invite

    @extend_schema(
        summary="Delete a pending invite",
        parameters=[OpenApiParameter("key", int, OpenApiParameter.PATH, description="the invite id")],
        responses={200: EMPTY},
    )
    def delete(self, request: Request, key: str) -> Response:
        self.require(request, Action.WRITE, Kind.INVITE)
        services.delete_invite(request.user, self._by_id(key))
        return Response({})


class ApiTokenSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    role = serializers.ChoiceField(choices=Role.choices, required=False, allow_blank=True, default="")
    expires_in_days = serializers.IntegerField(min_value=1, max_value=tokens.API_TOKEN_MAX_DAYS, default=90)


def api_token_json(token: AuthToken) -> dict[str, Any]:
    return {
        "id": token.pk,
        "name": token.name,
        "role": token.role or None,
        "created_at": rfc3339(token.created_at),
        "last_used_at": rfc3339(token.last_used_at),
        "expires_at": rfc3339(token.expires_at),
    }


@extend_schema_view(
    get=extend_schema(summary="Your API tokens", responses={200: listing("ApiTokenList", "api_tokens")}),
    post=extend_schema(
        summary="Create a named API token",
        request=ApiTokenSerializer,
        responses={200: envelope("ApiTokenCreated", api_token=serializers.DictField(), token=serializers.CharField())},
    ),
)
class ApiTokenListView(FleetAPIView):
    """Beyond Fleet: named, role-scoped, expiring API tokens; the key is shown once."""

    def get(self, request: Request) -> Response:
        rows = AuthToken.objects.filter(user=request.user, kind=TokenKind.API).order_by("-created_at")
        return Response({"api_tokens": [api_token_json(t) for t in rows]})

    def post(self, request: Request) -> Response:
        data = self.validated(ApiTokenSerializer, request)
        try:
            token, key = tokens.issue_api_token(request.user, data["name"], data["role"], data["expires_in_days"])
        except tokens.TokenRoleTooHigh as exc:
            raise forbidden(str(exc)) from exc
        record(request.user, types.CREATED_API_TOKEN, {"token_id": token.pk, "name": token.name, "role": token.role})
        return Response({"api_token": api_token_json(token), "token": key})


class ApiTokenDetailView(FleetAPIView):
    @extend_schema(summary="Revoke an API token", responses={200: EMPTY})
    def delete(self, request: Request, token_id: int) -> Response:
        token = AuthToken.objects.filter(pk=token_id, kind=TokenKind.API, user=request.user).first()
        if token is None:
            raise not_found(f"API token {token_id} was not found in the datastore")
        record(request.user, types.REVOKED_API_TOKEN, {"token_id": token.pk, "name": token.name})
        token.delete()
        return Response({})
