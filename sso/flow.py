"""The parts every sign-in shares: the browser-bound pending login, local redirects, success and failure."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone

from accounts.models import User
from activities import types
from activities.record import record
from fleetsite.lib.tokens import digest, random_key
from fleetsite.models import FleetConfig
from mfa.constants import SESSION_METHOD
from sso import constants
from sso.errors import SSOError
from sso.models import PendingLogin


def server_url() -> str:
    return (FleetConfig.load().server_url or settings.FLEETSITE_SERVER_URL or "").rstrip("/")


def acs_url() -> str:
    return server_url() + constants.ACS_PATH


def oidc_redirect_uri() -> str:
    return server_url() + constants.OIDC_CALLBACK_PATH


def local_path(value: str | None) -> str | None:
    """`value` when it is a path on this server ("/hosts?x=1"), else None: no open redirect."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or any(ord(c) < 32 for c in value):
        return None
    return value


def checked_relay(value: str | None) -> str:
    """Where a sign-in goes afterwards: "/" when nothing was asked, the local path asked for, or SSOError.

    An absolute URL of this server (an IdP's default RelayState often is one) counts as its path;
    anything else is an open-redirect attempt, refused rather than quietly replaced.
    """
    if value is None or not str(value).strip():
        return "/"
    value = str(value).strip()
    parts = urlsplit(value)
    own = urlsplit(server_url())
    if parts.scheme and parts.netloc and (parts.scheme, parts.netloc) == (own.scheme, own.netloc):
        value = urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))
    path = local_path(value)
    if path is None:
        raise SSOError(refused_redirect_message(value))
    return path


def refused_redirect_message(target: str) -> str:
    """The person's explanation of a refused redirect, naming where it would have gone (shortened)."""
    shown = target if len(target) <= 200 else target[:200] + "…"
    return constants.OPEN_REDIRECT.format(target=repr(shown))


def start(response: HttpResponse, request: HttpRequest, protocol: str, relay_path: str, **fields: str) -> None:
    """Remember a started login and bind it to this browser with a cookie (only its digest is stored)."""
    key = random_key(32)
    now = timezone.now()
    PendingLogin.objects.filter(expires_at__lt=now).delete()
    PendingLogin.objects.create(
        key_digest=digest(key),
        protocol=protocol,
        relay_path=relay_path,
        created_at=now,
        expires_at=now + constants.PENDING_LOGIN_TTL,
        **fields,
    )
    secure = request.is_secure()
    response.set_cookie(
        constants.COOKIE_NAME,
        key,
        max_age=int(constants.PENDING_LOGIN_TTL.total_seconds()),
        httponly=True,
        secure=secure,
        # The IdP posts back from another site: a Lax cookie would not come along over HTTPS.
        samesite="None" if secure else "Lax",
    )


def take(request: HttpRequest, protocol: str) -> PendingLogin | None:
    """The browser's pending login of `protocol`, removed so it is used once; None if absent or expired."""
    key = request.COOKIES.get(constants.COOKIE_NAME, "")
    if not key:
        return None
    with transaction.atomic():
        pending = (
            PendingLogin.objects.select_for_update()
            .filter(key_digest=digest(key), protocol=protocol, expires_at__gt=timezone.now())
            .first()
        )
        if pending is not None:
            pending.delete()
    return pending


def succeed(request: HttpRequest, user: User, relay_path: str) -> HttpResponse:
    """Log the browser in (Django session), record Fleet's `user_logged_in`, go where the user was going."""
    request.session[SESSION_METHOD] = "sso"  # the session list says how this browser logged in (mfa.sessions)
    login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
    record(user, types.USER_LOGGED_IN, {"public_ip": getattr(request, "client_ip", "")})
    response = HttpResponseRedirect(local_path(relay_path) or "/")
    response.delete_cookie(constants.COOKIE_NAME)
    return response


def record_failure(request: HttpRequest, error: SSOError) -> None:
    """Fleet's `user_failed_login` for a refused sign-in, with our reason (who, when known)."""
    known = User.objects.filter(email=error.email).first() if error.email else None
    record(
        known,
        types.USER_FAILED_LOGIN,
        {"email": error.email, "public_ip": getattr(request, "client_ip", ""), "reason": error.message},
    )


def fail(request: HttpRequest, error: SSOError) -> HttpResponse:
    """Record Fleet's `user_failed_login` and send the browser to the login page with the reason."""
    record_failure(request, error)
    messages.error(request, f"Single sign-on failed: {error.message}")
    response = HttpResponseRedirect("/login/?" + urlencode({"status": error.status}))
    response.delete_cookie(constants.COOKIE_NAME)
    return response
