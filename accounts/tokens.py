"""Issuing and resolving bearer tokens for the REST API."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from accounts import permissions
from accounts.choices import TokenKind
from accounts.models import AuthToken, User
from fleetsite.lib.prepared import OneByValue
from fleetsite.lib.tokens import digest, random_key

# fleet-protocol §1.9: session.key_size is 64 random bytes.
SESSION_KEY_BYTES = 64
# Refreshing last_used_at on every call would turn each read into a write.
_TOUCH_EVERY = timedelta(minutes=1)


def issue_session(user: User) -> str:
    """Create a login session and return its key (shown to the client once, never stored)."""
    key = random_key(SESSION_KEY_BYTES)
    now = timezone.now()
    AuthToken.objects.create(
        key_digest=digest(key),
        user=user,
        kind=TokenKind.SESSION,
        created_at=now,
        last_used_at=now,
        expires_at=now + settings.FLEETSITE_SESSION_DURATION,
    )
    return key


# Every API request starts here: the SQL is compiled once, not per request (fleetsite/lib/prepared.py).
_token_by_digest = OneByValue(lambda value: AuthToken.objects.select_related("user").filter(key_digest=value))


def resolve(key: str) -> AuthToken | None:
    """The live token for `key`, or None; sliding sessions are extended as they are used."""
    if not key:
        return None
    token = _token_by_digest.get(digest(key))
    if token is None or not token.user.is_active:
        return None
    if token.kind == TokenKind.API and token.role:
        permissions.apply_token_role(token.user, token.role)
    now = timezone.now()
    if token.expires_at <= now:
        token.delete()
        return None
    if now - token.last_used_at > _TOUCH_EVERY:
        fields = {"last_used_at": now}
        if token.kind == TokenKind.SESSION:
            fields["expires_at"] = now + settings.FLEETSITE_SESSION_DURATION
        AuthToken.objects.filter(pk=token.pk).update(**fields)
    return token


# API tokens: long enough for scripts, never forever.
API_TOKEN_MAX_DAYS = 730


class TokenRoleTooHigh(PermissionError):
    """The requested role is above what the creating request may act with."""


def issue_api_token(user: User, name: str, role: str = "", days: int = 90) -> tuple[AuthToken, str]:
    """A named API token acting with at most `role`, expiring after `days`; returns it and its key.

    `user` is the requesting user as authenticated: a request made with a capped token creates
    tokens with that cap at most (no role given means the same cap), never more.
    """
    if not 1 <= days <= API_TOKEN_MAX_DAYS:
        raise ValueError(f"expiry must be between 1 and {API_TOKEN_MAX_DAYS} days")
    role = role or permissions.token_cap(user) or ""
    if not permissions.may_grant_token_role(user, role):
        raise TokenRoleTooHigh(f"a token cannot have the role {role}: it is above your own")
    key = random_key(SESSION_KEY_BYTES)
    now = timezone.now()
    token = AuthToken.objects.create(
        key_digest=digest(key),
        user=user,
        kind=TokenKind.API,
        name=name,
        role=role or "",
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(days=days),
    )
    return token, key


def revoke_sessions(user: User, keep: str = "") -> None:
    """End every login session of `user` (after a password change or reset), except `keep`."""
    AuthToken.objects.filter(user=user, kind=TokenKind.SESSION).exclude(
        key_digest=digest(keep) if keep else ""
    ).delete()


def revoke(key: str) -> None:
    AuthToken.objects.filter(key_digest=digest(key)).delete()
