"""DRF authentication by `Authorization: Bearer <token>` (fleet-protocol §0.2)."""

from __future__ import annotations

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts import tokens
from accounts.models import User


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
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"
