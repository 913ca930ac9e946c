"""Creating, finding and replacing enroll secrets."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from accounts.models import Team
from enrollment.models import EnrollSecret
from fleetsite.lib.tokens import digest, random_key

# fleet-protocol §4.3 and seed 001: generated secrets are 24 random bytes, base64.
SECRET_BYTES = 24
MAX_SECRETS_PER_SCOPE = 50


class SecretError(ValueError):
    """A secret set that Fleet would refuse; the message names the problem."""


def generate() -> str:
    return random_key(SECRET_BYTES)


def find(secret: str) -> EnrollSecret | None:
    """The enroll secret matching `secret`, with its team, looked up by digest."""
    if not secret:
        return None
    return EnrollSecret.objects.select_related("team").filter(secret_digest=digest(secret)).first()


def validate(secrets: list[str]) -> None:
    if len(secrets) > MAX_SECRETS_PER_SCOPE:
        raise SecretError(f"too many secrets: at most {MAX_SECRETS_PER_SCOPE} per team or globally")
    for value in secrets:
        if not value or not value.strip():
            raise SecretError("enroll secret cannot be empty")
        if len(value) > 255:
            raise SecretError("enroll secret is longer than 255 characters")
    if len(set(secrets)) != len(secrets):
        raise SecretError("the same enroll secret is listed twice")


def validate_for_scope(team: Team | None, secrets: list[str]) -> None:
    """Everything `replace` would refuse, including secrets another scope already uses (for dry runs)."""
    validate(secrets)
    digests = [digest(value) for value in secrets]
    if EnrollSecret.objects.filter(secret_digest__in=digests).exclude(team=team).exists():
        raise SecretError("enroll secret is already in use by another team or globally")


@transaction.atomic
def replace(team: Team | None, secrets: Iterable[str]) -> list[EnrollSecret]:
    """Make `secrets` the whole set of the scope (Fleet's PATCH/POST semantics), keeping created_at."""
    wanted = list(secrets)
    validate_for_scope(team, wanted)
    digests = {digest(value): value for value in wanted}
    scope = EnrollSecret.objects.filter(team=team)
    scope.exclude(secret_digest__in=digests).delete()
    existing = set(scope.values_list("secret_digest", flat=True))
    for value_digest, value in digests.items():
        if value_digest not in existing:
            EnrollSecret(secret=value, team=team).save()
    return list(EnrollSecret.objects.filter(team=team))


@transaction.atomic
def add(team: Team | None, secret: str | None = None) -> EnrollSecret:
    value = secret or generate()
    current = list(EnrollSecret.objects.filter(team=team).values_list("secret", flat=True))
    validate([*current, value])
    if EnrollSecret.objects.filter(secret_digest=digest(value)).exists():
        raise SecretError("enroll secret is already in use by another team or globally")
    enroll_secret = EnrollSecret(secret=value, team=team)
    enroll_secret.save()
    return enroll_secret
