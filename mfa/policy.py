"""When a password login needs a second step, and when it must set one up first (SSO logins are exempt)."""

from __future__ import annotations

from accounts.models import User
from mfa import factors
from mfa.models import MFASettings

SECOND_STEP = "second_step"
ENROL_FIRST = "enrol_first"


def required() -> bool:
    row = MFASettings.objects.filter(pk=1).only("require_mfa").first()
    return bool(row and row.require_mfa)


def password_login_needs(user: User) -> str | None:
    """`SECOND_STEP` when `user` has a second factor, `ENROL_FIRST` when one is required and missing, else None.

    API-only users are exempt from the requirement (they have no web UI to set one up in), as
    they are from "require SSO"; one that has a factor still needs it.
    """
    if factors.has_mfa(user):
        return SECOND_STEP
    if required() and not user.api_only:
        return ENROL_FIRST
    return None
