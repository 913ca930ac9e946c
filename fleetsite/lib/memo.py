"""A few seconds of in-process memory in front of the shared cache, for values every check-in reads.

The app config, team agent options, label, policy and campaign lists are read by agent
requests but change rarely. Fetching them from Redis each time costs more than the rest of an
idle check-in, so each process keeps its copy for a few seconds.

Values are stored under a generation number that every change bumps. Deleting the key instead
would race: a reader that loaded the old rows just before the change committed could store them
again just after, and everyone would read that stale copy until it expired. With generations the
late writer fills a key nobody reads any more.

Redis is an accelerator here, not a dependency (`fleetsite.lib.sharedcache`). While it is down
each process loads values from the database at most once per `local_seconds` and name, under a
generation of its own that no other process shares. A change made meanwhile cannot start a new
shared generation, so its name is remembered and the generation is started as soon as Redis
answers again; until then other processes hold their copies no longer than `local_seconds`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import transaction

from fleetsite.lib import sharedcache

T = TypeVar("T")

LOCAL_SECONDS = 5.0
SHARED_SECONDS = 300
_MAX_LOCAL_ENTRIES = 2000

_local: dict[str, tuple[float, object]] = {}
_unannounced: set[str] = set()  # names changed while Redis was down


def _remember(key: str, value: object, now: float, local_seconds: float) -> None:
    if len(_local) > _MAX_LOCAL_ENTRIES:  # old generations' keys: drop what has expired
        for stale in [name for name, (until, _) in _local.items() if until <= now]:
            del _local[stale]
    _local[key] = (now + local_seconds, value)


def _generation(name: str, local_seconds: float) -> int | str:
    """The shared generation of `name`; during an outage one of this process's own (a str)."""
    key = f"{name}:generation"
    now = time.monotonic()
    entry = _local.get(key)
    if entry is not None and entry[0] > now:
        if not isinstance(entry[1], str) or not sharedcache.worth_trying():
            return entry[1]  # type: ignore[return-value]
        # An outage generation, and Redis may be back: ask now rather than when the copy expires.
        with contextlib.suppress(sharedcache.Unavailable):
            generation = _shared_generation(key)
            _remember(key, generation, now, local_seconds)
            return generation
        return entry[1]
    try:
        generation = _shared_generation(key)
    except sharedcache.Unavailable:
        generation = f"local-{time.time_ns()}"  # this process's own: values come from the database
    _remember(key, generation, now, local_seconds)
    return generation


def _shared_generation(key: str) -> int:
    generation = sharedcache.call(cache.get, key)
    if generation is None:
        # A fresh generation never repeats an old one, even after the shared cache lost the counter.
        generation = time.time_ns()
        sharedcache.call(cache.add, key, generation, None)
        generation = sharedcache.call(cache.get, key, generation)
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
    generation = _generation(name, local_seconds)
    shared = not isinstance(generation, str)  # an outage generation lives in this process only
    key = f"{name}:{generation}:{variant}"
    now = time.monotonic()
    entry = _local.get(key)
    if entry is not None and entry[0] > now:
        return entry[1]  # type: ignore[return-value]
    value = _shared_get(key) if shared else None
    if value is None:
        value = loader()
        if shared:
            _shared_set(key, value, shared_seconds)
    _remember(key, value, now, local_seconds)
    return value


def forget(name: str) -> None:
    """The value of `name` changed: start a new generation, here and for every process.

    Called inside a transaction, it starts another one when the transaction commits, since
    readers elsewhere see the change only then.
    """
    _local.pop(f"{name}:generation", None)
    try:
        sharedcache.call(cache.set, f"{name}:generation", time.time_ns(), None)
    except sharedcache.Unavailable:
        _unannounced.add(name)
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        transaction.on_commit(lambda: forget(name))


def _shared_get(key: str) -> object:
    try:
        return sharedcache.call(cache.get, key)
    except sharedcache.Unavailable:
        return None


def _shared_set(key: str, value: object, seconds: int) -> None:
    with contextlib.suppress(sharedcache.Unavailable):
        sharedcache.call(cache.set, key, value, seconds)


def _announce_changes() -> None:
    """Redis is back: start the shared generations that changes during the outage could not start."""
    while _unannounced:
        name = _unannounced.pop()
        try:
            sharedcache.call(cache.set, f"{name}:generation", time.time_ns(), None)
        except sharedcache.Unavailable:
            _unannounced.add(name)
            raise
    # Generations read during the outage are this process's own: read the shared ones again.
    own = [key for key, (_, value) in list(_local.items()) if key.endswith(":generation") and isinstance(value, str)]
    for key in own:
        _local.pop(key, None)


sharedcache.on_recovery(_announce_changes)


def clear_local() -> None:
    _local.clear()
    _unannounced.clear()
