"""The shared cache (Redis) as an accelerator: an outage makes it slower to be right, never wrong or down.

Agent check-ins read the cache on every request. When Redis is unreachable each call would
raise (a 500 for the agent) or, with retries, wait. `call()` turns a failure into `Unavailable`
and then leaves Redis alone for `RETRY_SECONDS`, so during an outage a request costs no Redis
round trip at all, and once Redis is back the first call after that pause finds it again.
Callers decide what a missing value means: `fleetsite.lib.memo` reads the database instead,
`degrading` (for throttles and counters) reads a miss and drops writes.

Listeners registered with `on_recovery` run once when Redis answers again, before the call that
found it, e.g. to replay cache invalidations that could not be written while Redis was away.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_SECONDS = 1.0


class Unavailable(Exception):
    """The shared cache could not be reached (or was not tried, because it just failed)."""


def _connection_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError]
    try:
        from redis.exceptions import RedisError

        errors.append(RedisError)
    except ImportError:  # pragma: no cover - redis is a runtime requirement
        pass
    try:
        from django_redis.exceptions import ConnectionInterrupted

        errors.append(ConnectionInterrupted)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


_ERRORS = _connection_errors()
_lock = threading.Lock()
_down_until = 0.0  # monotonic time before which Redis is not tried again
_down = False  # the last call failed; the next success is a recovery
_listeners: list[Callable[[], None]] = []
_PROBE_KEY = "sharedcache:probe"


def call(operation: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`operation(*args, **kwargs)` on the cache, or `Unavailable` while Redis is down."""
    if _down:
        if time.monotonic() < _down_until:
            raise Unavailable("shared cache unreachable")
        _try_recovery()
    try:
        return operation(*args, **kwargs)
    except _ERRORS as exc:
        _trip(exc)
        raise Unavailable(str(exc)) from exc


def _trip(exc: BaseException) -> None:
    global _down, _down_until
    with _lock:
        if not _down:
            logger.warning("shared cache unreachable, serving from the database: %s", exc)
        _down, _down_until = True, time.monotonic() + RETRY_SECONDS


def _try_recovery() -> None:
    """Probe Redis once; when it answers, run the recovery listeners before the caller's operation."""
    global _down
    try:
        cache.get(_PROBE_KEY)
    except _ERRORS as exc:
        _trip(exc)
        raise Unavailable(str(exc)) from exc
    with _lock:
        if not _down:
            return  # another thread recovered first
        _down = False
    logger.warning("shared cache reachable again")
    for listener in list(_listeners):
        try:
            listener()
        except Unavailable:  # down again: the next recovery runs every listener again
            return
        except Exception:
            logger.exception("a shared cache recovery listener failed")


def worth_trying() -> bool:
    """False while Redis just failed and is being left alone; True when a call would try it."""
    return not _down or time.monotonic() >= _down_until


def reachable() -> bool:
    """Whether Redis answers now (without waiting longer than one failed call)."""
    try:
        call(cache.get, _PROBE_KEY)
    except Unavailable:
        return False
    return True


def on_recovery(listener: Callable[[], None]) -> None:
    """Run `listener` each time the shared cache answers again after an outage."""
    if listener not in _listeners:
        _listeners.append(listener)


def reset() -> None:
    """Forget any outage (tests switching caches)."""
    global _down, _down_until
    with _lock:
        _down, _down_until = False, 0.0


class DegradingCache:
    """The default cache for values that may be lost: during an outage reads miss and writes do nothing.

    Made for DRF throttles and counters: a lost count lets a few more requests through, which
    is better than refusing them all.
    """

    def get(self, key: str, default: Any = None, **kwargs: Any) -> Any:
        try:
            return call(cache.get, key, default, **kwargs)
        except Unavailable:
            return default

    def set(self, key: str, value: Any, timeout: Any = None, **kwargs: Any) -> None:
        with contextlib.suppress(Unavailable):
            call(cache.set, key, value, timeout, **kwargs)

    def add(self, key: str, value: Any, timeout: Any = None, **kwargs: Any) -> bool:
        try:
            return call(cache.add, key, value, timeout, **kwargs)
        except Unavailable:
            return False

    def delete(self, key: str, **kwargs: Any) -> bool:
        try:
            return call(cache.delete, key, **kwargs)
        except Unavailable:
            return False

    def incr(self, key: str, delta: int = 1, **kwargs: Any) -> int | None:
        try:
            return call(cache.incr, key, delta, **kwargs)
        except Unavailable:
            return None


degrading = DegradingCache()
