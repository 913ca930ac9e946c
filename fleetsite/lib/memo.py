"""A few seconds of in-process memory in front of the shared cache, for values every check-in reads.

The app config, team agent options and the dynamic label list are read by every agent
request but change rarely. Fetching them from Redis each time costs more than the rest of an
idle check-in, so each process keeps its copy for `LOCAL_SECONDS`. A change is visible at once
in the process that made it, and in the others within those seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache

T = TypeVar("T")

LOCAL_SECONDS = 5.0
SHARED_SECONDS = 300

_local: dict[str, tuple[float, object]] = {}


def cached(
    key: str, loader: Callable[[], T], local_seconds: float = LOCAL_SECONDS, shared_seconds: int = SHARED_SECONDS
) -> T:
    """The value for `key`: from this process, else the shared cache, else `loader()`."""
    now = time.monotonic()
    entry = _local.get(key)
    if entry is not None and entry[0] > now:
        return entry[1]  # type: ignore[return-value]
    value = cache.get(key)
    if value is None:
        value = loader()
        cache.set(key, value, shared_seconds)
    _local[key] = (now + local_seconds, value)
    return value


def forget(key: str) -> None:
    """Drop `key` here and in the shared cache, after the value changed."""
    _local.pop(key, None)
    cache.delete(key)


def forget_local(key: str) -> None:
    """Drop `key` from this process only (the shared value was updated in place)."""
    _local.pop(key, None)


def clear_local() -> None:
    _local.clear()
