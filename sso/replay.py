"""Replay protection: an assertion (or ID token) id is accepted once, and remembered until it expires."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from sso import constants
from sso.errors import SSOError
from sso.models import ConsumedAssertion


def consume(assertion_id: str, expires_at: datetime | None, email: str = "") -> None:
    if not assertion_id:
        raise SSOError("The assertion has no ID, so it cannot be protected against replay.", email=email)
    now = timezone.now()
    ConsumedAssertion.objects.filter(expires_at__lt=now).delete()
    keep_until = max(expires_at or now, now) + constants.DEFAULT_ASSERTION_TTL
    try:
        with transaction.atomic():
            ConsumedAssertion.objects.create(assertion_id=assertion_id[:255], expires_at=keep_until)
    except IntegrityError as exc:
        raise SSOError("This assertion was already used (replayed); sign in again.", email=email) from exc
