"""The second step of a password login: a short-lived challenge the client holds the key of.

`start` is called once the password passed; `complete` checks a code against it. A challenge
ends when it expires, when it has seen too many wrong codes, or when it succeeds: it is used
once. Only the key's digest is stored.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from fleetsite.lib.tokens import digest
from mfa import factors, passkeys
from mfa.models import LoginChallenge

EXPIRED = "This sign-in expired or saw too many wrong codes: log in again."


class ChallengeFailed(ValueError):
    """The second step did not pass; `user` is whose login it was, if known; `ended`: it must start over."""

    def __init__(self, message: str, user: User | None = None, ended: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.user = user
        self.ended = ended


@dataclass(frozen=True)
class Passed:
    user: User
    method: str


def start(user: User, purpose: str) -> str:
    """A new challenge for `user`; returns its key (given to the client once, never stored)."""
    key = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        LoginChallenge.objects.filter(expires_at__lte=now).delete()
        LoginChallenge.objects.create(
            key_digest=digest(key),
            user=user,
            purpose=purpose,
            created_at=now,
            expires_at=now + settings.FLEETSITE_MFA_CHALLENGE_TTL,
        )
    return key


def peek(key: str, purpose: str) -> LoginChallenge | None:
    """The live challenge behind `key`, without using it (the UI shows whose sign-in it is)."""
    if not key or not isinstance(key, str):
        return None
    return (
        LoginChallenge.objects.select_related("user")
        .filter(key_digest=digest(key), purpose=purpose, expires_at__gt=timezone.now())
        .first()
    )


def complete(key: str, code: str, purpose: str) -> Passed:
    """Check `code` against the challenge `key`; the user on success (the challenge is then gone).

    Wrong codes count against the challenge (FLEETSITE_MFA_MAX_ATTEMPTS); the count and the
    TOTP device's throttle are committed even though the step fails.
    """
    return _complete(key, purpose, lambda row: factors.verify(row.user, code))


def complete_passkey(key: str, credential: Any, purpose: str, rp: passkeys.RelyingParty) -> Passed:
    """Check a passkey assertion against the challenge `key` (its WebAuthn challenge is used once, pass or fail)."""

    def check(row: LoginChallenge) -> str:
        expected, row.webauthn_challenge = row.webauthn_challenge, ""
        row.save(update_fields=["webauthn_challenge"])
        try:
            passkeys.verify_assertion(rp, row.user, expected, credential)
        except passkeys.PasskeyRefused as exc:
            raise factors.CodeRefused(str(exc)) from exc
        return "passkey"

    return _complete(key, purpose, check)


def _complete(key: str, purpose: str, check: Callable[[LoginChallenge], str]) -> Passed:
    if not key or not isinstance(key, str):
        raise ChallengeFailed(EXPIRED, ended=True)
    # Failures are decided inside the transaction but raised after it: the attempt count and the
    # device's throttle must be committed, not rolled back with the refusal.
    failure: ChallengeFailed | None = None
    with transaction.atomic():
        row = (
            LoginChallenge.objects.select_for_update()
            .select_related("user")
            .filter(key_digest=digest(key), purpose=purpose)
            .first()
        )
        if row is None:
            raise ChallengeFailed(EXPIRED, ended=True)
        user = row.user
        if row.expires_at <= timezone.now() or not user.is_active:
            row.delete()
            failure = ChallengeFailed(EXPIRED, user=user, ended=True)
        else:
            try:
                method = check(row)
            except factors.CodeRefused as exc:
                row.attempts += 1
                if row.attempts >= settings.FLEETSITE_MFA_MAX_ATTEMPTS:
                    row.delete()
                    failure = ChallengeFailed(EXPIRED, user=user, ended=True)
                else:
                    row.save(update_fields=["attempts"])
                    failure = ChallengeFailed(str(exc), user=user)
            else:
                row.delete()
    if failure is not None:
        raise failure
    return Passed(user=user, method=method)


def discard(key: str) -> None:
    if key and isinstance(key, str):
        LoginChallenge.objects.filter(key_digest=digest(key)).delete()
