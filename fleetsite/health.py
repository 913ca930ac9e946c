"""`/healthz`, `/version` and `/metrics` (fleet-protocol §4.10)."""

from __future__ import annotations

import base64
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from fleetsite import version as fleet_version
from fleetsite import workers
from fleetsite.lib.tokens import same_secret
from fleetsite.metrics import exposition

logger = logging.getLogger(__name__)


def _check_db() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_redis() -> None:
    """With REDIS_URL the cache is Redis; without it there is nothing to check, which is healthy."""
    if settings.REDIS_URL:
        cache.set("healthz", "ok", 10)
        if cache.get("healthz") != "ok":
            raise RuntimeError("redis did not return the value just written")


def _check_process(kind: str) -> None:
    """A Celery worker (or beat) wrote a heartbeat within the last minute; always true without REDIS_URL."""
    state = workers.status(kind)
    if not state.running:
        raise RuntimeError(state.message)


CHECKS = {
    "db": _check_db,
    "mysql": _check_db,
    "redis": _check_redis,
    # Asked for by name only: a load balancer must not drop web servers because a worker stopped.
    "worker": lambda: _check_process("worker"),
    "beat": lambda: _check_process("beat"),
}


# Checks whose failure degrades the server without stopping it: agents keep checking in.
DEGRADABLE = {"redis"}


def healthz(request: HttpRequest) -> HttpResponse:
    """200 when every (or every requested) check passes, else 500; the body is empty as in Fleet.

    Without `check`, a Redis outage answers 200 with `redis: degraded` in the body: the server
    still serves agents and the API from the database, so a load balancer must keep it. Asked
    for by name (`?check=redis`), the same outage is a failure.
    """
    named = request.GET.getlist("check")
    requested = named or ["db", "redis"]
    unknown = [name for name in requested if name not in CHECKS]
    if unknown:
        return HttpResponse(f"unknown check: {', '.join(unknown)}\n", status=400, content_type="text/plain")
    degraded = []
    for name in requested:
        try:
            CHECKS[name]()
        except Exception:
            logger.exception("health check %s failed", name)
            if named or name not in DEGRADABLE:
                # Say which check failed (Fleet's body is empty; monitors read only the status).
                return HttpResponse(f"{name}: failed\n", status=500, content_type="text/plain")
            degraded.append(name)
    body = "".join(f"{name}: degraded\n" for name in degraded)
    return HttpResponse(body, status=200, content_type="text/plain")


def version(request: HttpRequest) -> JsonResponse:
    """Fleet's public `/version`: the release and the build (git commit) answering."""
    return JsonResponse(fleet_version.info())


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text; HTTP Basic auth is required when a username and password are configured."""
    username, password = settings.FLEETSITE_METRICS_USERNAME, settings.FLEETSITE_METRICS_PASSWORD
    if username and password and not _basic_auth_ok(request, username, password):
        response = HttpResponse("authentication required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Basic realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type="text/plain; version=0.0.4; charset=utf-8")


def _basic_auth_ok(request: HttpRequest, username: str, password: str) -> bool:
    scheme, _, encoded = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given_user, _, given_password = base64.b64decode(encoded).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    return same_secret(given_user, username) & same_secret(given_password, password)
