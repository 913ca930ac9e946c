"""The host behind an agent key, kept in memory between check-ins, forgotten whenever its row changes.

Why: an idle check-in is one indexed SELECT, and measured in a real server (bench.profile_checkins,
MariaDB) that query was about 0.2 of the 0.39 CPU-ms of an idle distributed/read and of the 0.35
of an orbit config poll, more than the whole empty Django view. Agents ask every 10 to 30 s and
their host rows rarely change, so most lookups can be answered from memory.

Correctness rests on invalidation, not on expiry:
- Hosts fall into `BUCKETS` buckets by id. Each bucket has an epoch, and there is one epoch for
  all hosts, in the shared cache (Redis). An entry remembers the epochs of its host's bucket read
  *before* its SELECT, and is used only while both are unchanged.
- Every write to a host row, once made, bumps its bucket (or, when the hosts are not known by id, the epoch
  for all): the queryset and model hooks in `hosts.models`, the check-in's own UPDATE in
  `hosts.ingest`, and a deleted team (its hosts lose their team by cascade). A write bumps now and
  again after its transaction commits, so a reader that cached the old row meanwhile drops it.
- Each process reads the epochs at most every `REFRESH_SECONDS`; its own writes show at once. So
  a change made in another process (a worker, Celery, a management command) reaches this one's
  agents within half a second: a refetch, a team transfer, a deleted host's key refused.
- While Redis is unreachable nothing is cached or served from memory (an invalidation could be
  missed); a bump that could not be written is replayed as a bump for all when Redis answers again.
- The seen-time flush writes only `seen_time` and `online_until`, which every check-in sets itself.

`FLEETSITE_CHECKIN_CACHE_SECONDS` bounds any entry's age besides (0 turns this off); by default it
is on only with REDIS_URL, where other processes can tell this one what they changed.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.base import ModelState

from fleetsite.lib import sharedcache

BUCKETS = 512
REFRESH_SECONDS = 0.5
MAX_ENTRIES = 50_000  # about 1.5 KB each; a process serving its share of a large fleet holds a few thousand

_ALL_KEY = "checkin-cache:epoch:all"
_REDIS = hasattr(cache, "delete_pattern")  # django-redis, whose incr can skip its existence check
_BUCKET_KEYS = [f"checkin-cache:epoch:{bucket}" for bucket in range(BUCKETS)]


@dataclass(frozen=True)
class _Epochs:
    all: int
    buckets: tuple[int, ...]
    read_at: float

    def of(self, pk: int) -> tuple[int, int]:
        return self.all, self.buckets[pk % BUCKETS]


@dataclass(frozen=True)
class _Entry:
    host: Any
    epochs: tuple[int, int]
    expires: float


_lock = threading.Lock()
_entries: dict[tuple[str, str, str], _Entry] = {}
_epochs: _Epochs | None = None
_replay_on_recovery = False


def enabled() -> bool:
    return settings.FLEETSITE_CHECKIN_CACHE_SECONDS > 0


def _telling_others() -> bool:
    """Writes bump the epochs wherever a process may cache, even one whose own cache is off (a Celery worker)."""
    return enabled() or bool(settings.REDIS_URL)


def get(key: tuple[str, str, str], load: Callable[[], Any]) -> Any:
    """The host stored under `key` (alias, key column, key digest), or `load()`'s, remembered for next time.

    The caller gets its own copy: setting its seen time changes nothing here.
    """
    now = time.monotonic()
    epochs = _current_epochs(now)
    if epochs is None:
        return load()
    entry = _entries.get(key)
    if entry is not None and entry.expires > now and entry.epochs == epochs.of(entry.host.pk):
        return _copy(entry.host)
    host = load()
    if host is None:
        _entries.pop(key, None)
        return None
    if len(_entries) >= MAX_ENTRIES:
        _evict_oldest()
    # The epochs read before the SELECT: a change committed after them has bumped them since.
    _entries[key] = _Entry(_copy(host), epochs.of(host.pk), now + settings.FLEETSITE_CHECKIN_CACHE_SECONDS)
    return host


def forget_hosts(pks: Iterable[int]) -> None:
    """These hosts' rows changed (or are about to, in the open transaction): drop them here and everywhere."""
    buckets = {pk % BUCKETS for pk in pks if isinstance(pk, int)}
    if buckets and _telling_others():
        _bump_twice([_BUCKET_KEYS[bucket] for bucket in sorted(buckets)])


def forget_queryset(queryset: Any) -> None:
    """The hosts a queryset's UPDATE or DELETE wrote: by id when its filter names ids, else all."""
    if _telling_others():
        pks = _filtered_pks(queryset.query.where)
        if pks is None:
            forget_all()
        else:
            forget_hosts(pks)


def _filtered_pks(where: Any) -> list[int] | None:
    """The ids an AND of conditions limits the rows to (`pk=`, `pk__in=`), or None when it does not."""
    from django.db.models.lookups import Exact, In
    from django.db.models.sql.where import AND

    if where.connector != AND or where.negated:
        return None
    for child in where.children:
        if isinstance(child, Exact | In) and getattr(getattr(child.lhs, "target", None), "primary_key", False):
            values = child.rhs if isinstance(child, In) else [child.rhs]
            if isinstance(values, list | tuple | set | frozenset) and all(type(pk) is int for pk in values):
                return list(values)
    return None


def forget_all() -> None:
    """Host rows changed that are not known by id (a filter, a cascade): drop every entry everywhere."""
    if _telling_others():
        _bump_twice([_ALL_KEY])


def clear() -> None:
    """Drop this process's entries and epochs (tests, and after an outage)."""
    global _epochs
    with _lock:
        _entries.clear()
        _epochs = None


def _bump_twice(keys: list[str]) -> None:
    """Bump now (this process, and readers of the old row, drop it) and after commit (readers meanwhile too)."""
    _bump(keys)
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        transaction.on_commit(lambda: _bump(keys))


def _bump(keys: list[str]) -> None:
    global _epochs, _replay_on_recovery
    try:
        values = {key: _increment(key) for key in keys}
    except sharedcache.Unavailable:
        _replay_on_recovery = True
        clear()
        return
    with _lock:
        epochs = _epochs
        if epochs is None:
            return
        buckets = list(epochs.buckets)
        all_epoch = epochs.all
        for key, value in values.items():
            if key == _ALL_KEY:
                all_epoch = value
            else:
                buckets[_BUCKET_KEYS.index(key)] = value
        _epochs = _Epochs(all_epoch, tuple(buckets), epochs.read_at)


def _increment(key: str) -> int:
    if key == _ALL_KEY:
        # A random start: if Redis loses the epochs, the new one differs from every remembered one.
        sharedcache.call(cache.add, key, secrets.randbelow(2**48), None)
    elif _REDIS:
        # One INCRBY, which starts a missing bucket at 0: a check-in's write pays one round trip.
        return int(sharedcache.call(cache.incr, key, ignore_key_check=True))
    else:
        sharedcache.call(cache.add, key, 0, None)
    return int(sharedcache.call(cache.incr, key))


def _current_epochs(now: float) -> _Epochs | None:
    """The epochs, read again from the shared cache when older than REFRESH_SECONDS; None while it is unreachable."""
    global _epochs
    epochs = _epochs
    if epochs is not None and now - epochs.read_at < REFRESH_SECONDS:
        return epochs
    try:
        values = sharedcache.call(cache.get_many, [_ALL_KEY, *_BUCKET_KEYS])
        all_epoch = values.get(_ALL_KEY)
        if all_epoch is None:
            sharedcache.call(cache.add, _ALL_KEY, secrets.randbelow(2**48), None)
            all_epoch = sharedcache.call(cache.get, _ALL_KEY)
    except sharedcache.Unavailable:
        clear()
        return None
    if all_epoch is None:
        return None
    buckets = tuple(int(values.get(key) or 0) for key in _BUCKET_KEYS)
    with _lock:
        previous = _epochs
        if previous is not None and previous.all == int(all_epoch):
            # A bump this process made while the read was under way must not be undone by it.
            buckets = tuple(map(max, buckets, previous.buckets))
        epochs = _epochs = _Epochs(int(all_epoch), buckets, now)
    return epochs


def _evict_oldest() -> None:
    with _lock:
        for key in list(_entries)[: MAX_ENTRIES // 10]:
            _entries.pop(key, None)


def _copy(host: Any) -> Any:
    """A new instance with the same loaded (and deferred) fields and its own ModelState."""
    clone = host.__class__.__new__(host.__class__)
    clone.__dict__ = host.__dict__.copy()
    state = ModelState()
    state.db, state.adding = host._state.db, False
    clone._state = state
    return clone


def _replay() -> None:
    global _replay_on_recovery
    if _replay_on_recovery:
        _replay_on_recovery = False
        forget_all()


sharedcache.on_recovery(_replay)
