"""Login lock-outs with django-axes: who is counted, how long a lock lasts, what a locked client sees.

Failures are counted per account and per client address (settings.AXES_LOCKOUT_PARAMETERS) in
the Django cache (Redis when configured). After `AXES_FAILURE_LIMIT` failures that account or
address is locked out for `FLEETSITE_LOGIN_LOCKOUT_SECONDS`; each further lock-out within a day
doubles that, up to `FLEETSITE_LOGIN_LOCKOUT_MAX_SECONDS`. Every credential check goes through
`django.contrib.auth.authenticate(request=...)`, so the UI form, the REST login, the Django admin
and password reset requests share one set of counters.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cache, get_client_cache_keys
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from activities import types
from activities.record import record
from fleetsite.lib.netaddr import client_ip

# Lock-outs are remembered this long for the growth of the next one.
_STRIKE_MEMORY = timedelta(days=1)


def login_name(request: Any, credentials: dict | None) -> str | None:
    """The account a login attempt names, normalised as our login does (email, lower case).

    The admin form says `username`, our forms and `authenticate()` calls say `username` or
    `email`; all must meet in one counter. Remembered on the request for `cool_off`.
    """
    value = None
    if credentials:
        value = credentials.get("username") or credentials.get("email")
    if value is None:
        data = getattr(request, "data", None) or getattr(request, "POST", {})
        value = data.get("username") or data.get("email") if hasattr(data, "get") else None
    name = value.strip().lower() if isinstance(value, str) and value.strip() else None
    if name is not None and "@" not in name:
        # axes hashes a lone username and a lone address into the same kind of key, so a name
        # spelled like an IP would share (and could lock) that address's counter. Addresses
        # never contain "@"; a name without one cannot be an account anyway.
        name += "@"
    request.fleetsite_login_name = name
    return name


def client_address(request: Any) -> str:
    """The address the middleware settled on: proxy headers only from FLEETSITE_TRUSTED_PROXIES."""
    address = getattr(request, "client_ip", None)
    if address is None:
        address = client_ip(request.META, settings.FLEETSITE_TRUSTED_PROXIES)
    return address or "unknown"


def _strike_keys(address: str | None, name: str | None) -> list[str]:
    keys = [f"login-strikes:ip:{address}"] if address else []
    return keys + ([f"login-strikes:user:{name}"] if name else [])


def _strikes(request: Any) -> int:
    keys = _strike_keys(getattr(request, "axes_ip_address", None), getattr(request, "fleetsite_login_name", None))
    return max((get_cache().get(key, 0) for key in keys), default=0)


def cool_off(request: Any = None) -> timedelta:
    """How long failures are counted and a lock-out lasts: doubled for each lock-out in the last day."""
    base = settings.FLEETSITE_LOGIN_LOCKOUT_SECONDS
    strikes = _strikes(request) if request is not None else 0
    seconds = base * 2 ** min(max(strikes - 1, 0), 32)
    return timedelta(seconds=min(seconds, max(settings.FLEETSITE_LOGIN_LOCKOUT_MAX_SECONDS, base)))


def retry_after(request: Any) -> int:
    """Whole seconds a locked client should wait (the lock's full length: an upper bound)."""
    return max(1, math.ceil(cool_off(request).total_seconds()))


def lockout_message(request: Any) -> str:
    minutes = max(1, math.ceil(retry_after(request) / 60))
    return f"Too many failed attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}."


def is_locked_out(request: Any) -> bool:
    """True when this attempt was refused by a lock-out or reached the limit and started one."""
    return bool(getattr(request, "axes_locked_out", False))


def was_locked_out(request: Any) -> bool:
    """True when axes refused this attempt because the account or address was already locked.

    The attempt that reaches the limit is an ordinary failure (its password was checked and
    wrong); only the attempts after it are refused unchecked.
    """
    return is_locked_out(request) and getattr(request, "axes_failures_since_start", 1) is None


@receiver(user_locked_out)
def on_locked_out(sender: Any, request: Any, username: str | None, ip_address: str | None, **kwargs: Any) -> None:
    """A fresh lock-out: remember the strike, stretch the lock to its grown length, tell the admins."""
    if request is None or getattr(request, "axes_failures_since_start", None) is None:
        return  # an attempt refused during a lock-out, not a new one
    cache = get_cache()
    memory = int(_STRIKE_MEMORY.total_seconds())
    for key in _strike_keys(ip_address, username):
        if not cache.add(key, 1, memory):
            cache.incr(key)
            cache.touch(key, memory)
    lock_seconds = retry_after(request)
    for key in get_client_cache_keys(request, request.axes_credentials):
        cache.touch(key, lock_seconds)
    from accounts.models import User

    account = User.objects.filter(email=username).first() if username else None
    record(
        account,
        types.USER_LOCKED_OUT,
        {
            "email": username or "",
            "public_ip": ip_address or "",
            "failures": request.axes_failures_since_start,
            "locked_for_seconds": lock_seconds,
        },
    )


def lockout_response(request: HttpRequest, original_response: HttpResponse | None, credentials: Any) -> HttpResponse:
    """AxesMiddleware's answer to a locked-out request.

    Our own login and reset views answer lock-outs themselves (the form with the message, 429),
    so their responses pass through; only the Django admin's login gets this plain page.
    """
    match = getattr(request, "resolver_match", None)
    if original_response is not None and getattr(match, "namespace", "") != "admin":
        return original_response
    response = render(
        request,
        "accounts/locked_out.html",
        {"title": "Too many attempts", "message": lockout_message(request)},
        status=429,
    )
    response["Retry-After"] = str(retry_after(request))
    return response


def check_reset_request(request: Any, email: str) -> bool:
    """Count a password-reset request against the same limits; False when it must be refused.

    A reset request is not a failed login, but it is an unauthenticated request about an
    account, and mailing links on demand is as abusable as guessing: one budget serves both.
    """
    if not settings.AXES_ENABLED:
        return True
    credentials = {"username": email.strip().lower()}
    if not AxesProxyHandler.is_allowed(request, credentials):
        request.axes_locked_out = True
        return False
    user_login_failed.send(sender=__name__, credentials=credentials, request=request)
    return True
