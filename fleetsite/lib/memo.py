"""A few seconds of in-process memory in front of the shared cache, for values every check-in reads.

The app config, team agent options, label, policy and campaign lists are read by agent
requests but change rarely. Fetching them from Redis each time costs more than the rest of an
idle check-in, so each process keeps its copy for a few seconds.

Values are stored under a generation number that every change bumps. Deleting the key instead
would race: a reader that loaded the old rows just before the change committed could store them
again just after, and everyone would read that stale copy until it expired. With generations the
late writer fills a key nobody reads any more.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import transaction

T = TypeVar("T")

LOCAL_SECONDS = 5.0
SHARED_SECONDS = 300
_MAX_LOCAL_ENTRIES = 2000

_local: dict[str, tuple[float, object]] = {}


def _remember(key: str, value: object, now: float, local_seconds: float) -> None:
    if len(_local) > _MAX_LOCAL_ENTRIES:  # old generations' keys: drop what has expired
        for stale in [name for name, (until, _) in _local.items() if until <= now]:
            del _local[stale]
    _local[key] = (now + local_seconds, value)


def _generation(name: str, local_seconds: float) -> int:
    key = f"{name}:generation"
    now = time.monotonic()
    entry = _local.get(key)
    if entry is not None and entry[0] > now:
        return entry[1]  # type: ignore[return-value]
    generation = cache.get(key)
    if generation is None:
        # A fresh generation never repeats an old one, even after the shared cache lost the counter.
        generation = time.time_ns()
        cache.add(key, generation, None)
        generation = cache.get(key, generation)
    _remember(key, generation, now, local_seconds)
    return generation


def cached(
    name: str,
    loader: Callable[[], T],
    local_seconds: float = LOCAL_SECONDS,
    shared_seconds: int = SHARED_SECONDS,
    variant: object = "",
) -> T:
    """The value for `name` (and `variant`, e.g. a team id): from this process, the shared cache, or `loader()`.

    Other processes see a change within `local_seconds`; the process that made it at once.
    """
    key = f"{name}:{_generation(name, local_seconds)}:{variant}"
    now = time.monotonic()
    entry = _local.get(key)
    if entry is not None and entry[0] > now:
        return entry[1]  # type: ignore[return-value]
    value = cache.get(key)
    if value is None:
        value = loader()
        cache.set(key, value, shared_seconds)
    _remember(key, value, now, local_seconds)
    return value


def forget(name: str) -> None:
    """The value of `name` changed: start a new generation, here and for every process.

    Called inside a transaction, it starts another one when the transaction commits, since
    readers elsewhere see the change only then.
    """
    cache.set(f"{name}:generation", time.time_ns(), None)
    _local.pop(f"{name}:generation", None)
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        transaction.on_commit(lambda: forget(name))


def clear_local() -> None:
    _local.clear()
