"""The sessions a user can see: web UI logins (Django sessions) beside REST login tokens.

A web login is a Django session, which the database cannot list by user; each login therefore
leaves a `BrowserSession` row (key, how, from where). Ending one deletes the Django session, so
that browser is logged out at its next request.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.contrib.sessions.models import Session
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.choices import TokenKind
from accounts.models import AuthToken, User
from activities.record import record
from mfa import constants
from mfa.models import BrowserSession
from mfa.types import ENDED_SESSIONS


def _store() -> Any:
    return import_module(settings.SESSION_ENGINE).SessionStore


def _on_login(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    if session is None:
        return
    if session.session_key is None:
        session.save()
    method = session.pop(constants.SESSION_METHOD, None) or "password"
    BrowserSession.objects.update_or_create(
        session_key=session.session_key,
        defaults={
            "user": user,
            "method": method[:32],
            "ip_address": str(getattr(request, "client_ip", "") or "")[:64],
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:255],
            "created_at": timezone.now(),
        },
    )


def _on_logout(sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any) -> None:
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        BrowserSession.objects.filter(session_key=key).delete()


def connect_signals() -> None:
    user_logged_in.connect(_on_login, dispatch_uid="mfa-browser-session-login")
    user_logged_out.connect(_on_logout, dispatch_uid="mfa-browser-session-logout")


def browser_sessions(user: User) -> list[BrowserSession]:
    """`user`'s web logins that still work, newest first; rows of sessions that ended are dropped."""
    rows = list(BrowserSession.objects.filter(user=user).order_by("-created_at", "-id"))
    if not rows or not settings.SESSION_ENGINE.endswith(".db"):
        return rows
    live = set(
        Session.objects.filter(
            session_key__in=[r.session_key for r in rows], expire_date__gt=timezone.now()
        ).values_list("session_key", flat=True)
    )
    gone = [r.pk for r in rows if r.session_key not in live]
    if gone:
        BrowserSession.objects.filter(pk__in=gone).delete()
    return [r for r in rows if r.session_key in live]


def api_sessions(user: User) -> list[AuthToken]:
    """`user`'s REST login tokens that still work, newest first."""
    return list(
        AuthToken.objects.filter(user=user, kind=TokenKind.SESSION, expires_at__gt=timezone.now()).order_by(
            "-created_at", "-id"
        )
    )


def end_browser_session(user: User, session_id: int) -> bool:
    """End one of `user`'s web logins by its row id; False when there is none."""
    with transaction.atomic():
        row = BrowserSession.objects.select_for_update().filter(pk=session_id, user=user).first()
        if row is None:
            return False
        _store()(row.session_key).delete()
        row.delete()
    return True


def end_api_session(user: User, session_id: int) -> bool:
    deleted, _ = AuthToken.objects.filter(pk=session_id, user=user, kind=TokenKind.SESSION).delete()
    return bool(deleted)


@transaction.atomic
def end_all(actor: User | None, user: User, keep_session_key: str = "") -> int:
    """End every web login and REST login token of `user` (API tokens stay); returns how many ended."""
    rows = list(BrowserSession.objects.select_for_update().filter(user=user).exclude(session_key=keep_session_key))
    store = _store()
    for row in rows:
        store(row.session_key).delete()
    BrowserSession.objects.filter(pk__in=[r.pk for r in rows]).delete()
    tokens, _ = AuthToken.objects.filter(user=user, kind=TokenKind.SESSION).delete()
    ended = len(rows) + tokens
    record(actor, ENDED_SESSIONS, {"user_id": user.pk, "user_name": user.name, "user_email": user.email,
                                   "sessions": ended})  # fmt: skip
    return ended
