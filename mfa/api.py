"""The REST side of the second step: POST /login's 202 answer and POST /sessions completing it.

Fleet's shape (server/service/sessions.go): a login that needs a second step answers 202 with
`{"message": ...}`, and `POST /sessions` with `{"token": ...}` completes it with the login
answer. Fleet mails the token; ours is in the 202 answer as `mfa_token` and `POST /sessions`
takes it with the authenticator's `code`. A client must say it can do a second step
(`supports_mfa` or Fleet's `supports_email_verification`); else Fleet's 400 for such clients.
"""

from __future__ import annotations

import time

from django.conf import settings
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from activities import types
from activities.record import record
from fleetsite.api.errors import FleetAPIError, bad_request, forbidden
from mfa import challenge, constants, factors, policy


def _flag(request: Request, *names: str) -> bool:
    data = request.data if isinstance(request.data, dict) else {}
    return any(data.get(name) is True for name in names)


def login_gate(request: Request, user: User) -> Response | None:
    """After the password passed: the 202 second-step answer, a refusal, or None to log in now."""
    need = policy.password_login_needs(user)
    if need is None:
        return None
    if need == policy.ENROL_FIRST:
        raise forbidden(constants.ENROL_REQUIRED)
    if not _flag(request, "supports_mfa", "supports_email_verification"):
        raise bad_request(constants.CLIENT_CANNOT_MFA)
    key = challenge.start(user, constants.PURPOSE_API)
    # Passkeys need a browser (WebAuthn): over REST a passkey-only user finishes with a recovery code.
    methods = [m for m in constants.METHODS if m != "totp" or factors.has_totp(user)]
    body = {"message": constants.MFA_REQUIRED_MESSAGE, "mfa_token": key, "mfa_methods": methods}
    return Response(body, status=constants.MFA_REQUIRED_STATUS)


def complete_login(request: Request, key: str, code: str) -> tuple[User, str]:
    """Check the second step; on failure record it and answer Fleet's 401 no sooner than the login failure delay."""
    started = time.monotonic()
    try:
        passed = challenge.complete(key, code, constants.PURPOSE_API)
    except challenge.ChallengeFailed as exc:
        user = exc.user
        record(
            user,
            types.USER_FAILED_LOGIN,
            {
                "email": user.email if user else "",
                "public_ip": getattr(request, "client_ip", ""),
                "reason": f"second factor: {exc.message}",
            },
        )
        remaining = settings.FLEETSITE_LOGIN_FAILURE_DELAY - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)
        raise FleetAPIError(401, "Authentication failed", exc.message) from exc
    return passed.user, passed.method
