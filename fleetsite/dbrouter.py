"""Read replica: the read-heavy lists people page through read from a second database.

As Fleet's `mysql_read_replica`, and only where a little replication lag is harmless: views
marked with `@reads_from_replica` (host, software, label and activity lists, counts and the
host summary), for GET and HEAD. Everything else, agent check-ins and writes included, uses the
primary. Accounts, sessions and API tokens are always read from the primary, so a token minted
a moment ago works at once. Without `DATABASE_READ_REPLICA_URL` none of this is installed.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from django.db.models import Model
from django.http import HttpRequest, HttpResponse

REPLICA = "replica"
# Apps whose rows decide who may do what: never read from a copy that may lag.
_PRIMARY_ONLY_APPS = frozenset({"accounts", "auth", "sessions", "axes", "contenttypes"})
_SAFE_METHODS = frozenset({"GET", "HEAD"})

_reading_from_replica: ContextVar[bool] = ContextVar("reading_from_replica", default=False)

View = TypeVar("View", bound=Callable[..., Any])


def reads_from_replica(view: View) -> View:
    """Mark a view (function or class) whose GET answers may come from the read replica."""
    view.read_replica = True  # type: ignore[attr-defined]
    return view


class ReadReplicaRouter:
    """Sends reads to the replica while a marked view answers; writes and migrations stay primary."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        if _reading_from_replica.get() and model._meta.app_label not in _PRIMARY_ONLY_APPS:
            return REPLICA
        return None

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        return None

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        return True  # the replica is a copy of the primary: objects from either relate

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db != REPLICA


class ReadReplicaMiddleware:
    """Turns replica reads on for the duration of a marked view's GET; last in the chain."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.get_response(request)
        finally:
            _reading_from_replica.set(False)  # WSGI threads are reused: never leak into the next request

    def process_view(self, request: HttpRequest, view_func: Callable[..., Any], *args: Any) -> None:
        marked = getattr(view_func, "read_replica", False) or getattr(
            getattr(view_func, "view_class", None), "read_replica", False
        )
        if marked and request.method in _SAFE_METHODS:
            _reading_from_replica.set(True)
