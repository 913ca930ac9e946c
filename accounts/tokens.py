"""Issuing and resolving bearer tokens for the REST API."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from accounts.choices import TokenKind
from accounts.models import AuthToken, User
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


def resolve(key: str) -> AuthToken | None:
    """The live token for `key`, or None; sliding sessions are extended as they are used."""
    if not key:
        return None
    token = AuthToken.objects.select_related("user").filter(key_digest=digest(key)).first()
    if token is None or not token.user.is_active:
        return None
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


def revoke(key: str) -> None:
    AuthToken.objects.filter(key_digest=digest(key)).delete()
