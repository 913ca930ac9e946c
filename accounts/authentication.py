"""DRF authentication by `Authorization: Bearer <token>` (fleet-protocol §0.2)."""

from __future__ import annotations

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts import tokens
from accounts.models import User


class PasswordResetRequired(exceptions.APIException):
    """Fleet's ErrPasswordResetRequired: what a user an admin flagged gets from every other endpoint."""

    status_code = 401
    default_detail = "password reset required"


def bearer_key(request: Request) -> str:
    """The bearer token of a request, or an empty string."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return key.strip()


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """Session keys from /login and API tokens, both as bearer tokens."""

    def authenticate(self, request: Request) -> tuple[User, object] | None:
        key = bearer_key(request)
        if not key:
            return None
        token = tokens.resolve(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Authentication required")
        if token.user.force_password_reset and not _allowed_during_reset(request):
            raise PasswordResetRequired()
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


def _allowed_during_reset(request: Request) -> bool:
    """Views that a user with a required password reset may still use (they set `allowed_during_password_reset`)."""
    view = (getattr(request, "parser_context", None) or {}).get("view")
    return bool(getattr(view, "allowed_during_password_reset", False))
