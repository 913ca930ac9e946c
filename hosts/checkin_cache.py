"""The host behind an agent key, kept in memory between check-ins, forgotten whenever its row changes.

Why: an idle check-in is one indexed SELECT, and measured in a real server (bench.profile_checkins,
MariaDB) that query was about 0.2 of the 0.39 CPU-ms of an idle distributed/read and of the 0.35
of an orbit config poll, more than the whole empty Django view (docs/profiles/README.md). Agents
ask every 10 to 60 s and their host rows change about once an hour, so most lookups can be
answered from memory.

Correctness rests on invalidation, not on expiry:
- Every write to a host row, once made, names the host (or "all", when the rows are not known by
  id): the queryset and model hooks in `hosts.models`, the check-in's own UPDATE in
  `hosts.ingest`, a deleted team (its hosts lose it by cascade). This process drops the host at
  once, and again after the commit (a thread may have loaded the old row meanwhile); with Redis
  the id is appended, once the write is committed, to a stream every process reads (one message
  per transaction).
- Each process reads the stream at most every `REFRESH_SECONDS`, so a change made elsewhere (a
  worker, Celery, a management command) reaches its agents within half a second: a refetch, a
  team transfer, a deleted host's key refused. The cost follows the rate of changes, not the
  size of the fleet.
- A row loaded while its host was named is not kept. A process that has not read the stream for
  `STALE_SECONDS` (no traffic; the stream may have been trimmed past it) starts over empty.
- While Redis is unreachable nothing is served from memory (a change could be missed), and a
  change that could not be appended is replayed as "all" when Redis answers again.
- The seen-time flush writes only `seen_time` and `online_until`, which every check-in sets itself.

`FLEETSITE_CHECKIN_CACHE_SECONDS` bounds any entry's age besides (0 turns this off); by default it
is on only with REDIS_URL, through which other processes say what they changed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.base import ModelState

from fleetsite.lib import sharedcache

REFRESH_SECONDS = 0.5
STALE_SECONDS = 10.0
MAX_ENTRIES = 50_000  # about 1.5 KB each; a process serving its share of a large fleet holds a few thousand
STREAM_LENGTH = 100_000  # changes kept in Redis: far more than all processes read in STALE_SECONDS
_ALL = "all"
_PENDING = "_checkin_cache_named"  # attribute of a connection: the hosts its open transaction named
# The default cache is django-redis exactly when REDIS_URL is set (fleetsite.settings): then other
# processes may cache too, and the stream needs its client.
_REDIS = hasattr(cache, "delete_pattern")


@dataclass(frozen=True)
class _Entry:
    host: Any
    expires: float


_lock = threading.Lock()
_entries: dict[tuple[str, str, str], _Entry] = {}
_keys_of: dict[int, set[tuple[str, str, str]]] = {}
_dropped_at: dict[int, int] = {}  # host id -> the drop count when it was last dropped, oldest first
_drops = 0  # how many drops this process has made; a load remembers it to know what happened meanwhile
_all_dropped_at = 0
_pruned_through = 0  # the newest drop count forgotten from `_dropped_at` to bound its size
_cursor: str | None = None  # the last stream entry read; None: not reading (yet, or after an outage)
_read_at = 0.0
_replay_on_recovery = False


def enabled() -> bool:
    return settings.FLEETSITE_CHECKIN_CACHE_SECONDS > 0


def get(key: tuple[str, str, str], load: Callable[[], Any]) -> Any:
    """The host stored under `key` (alias, key column, key digest), or `load()`'s, remembered for next time.

    The caller gets its own copy: setting its seen time changes nothing here.
    """
    now = time.monotonic()
    if not _caught_up(now):
        return load()
    entry = _entries.get(key)
    if entry is not None and entry.expires > now:
        return _copy(entry.host)
    drops_before = _drops
    host = load()
    if host is None:
        _entries.pop(key, None)
        return None
    with _lock:
        if max(_all_dropped_at, _pruned_through, _dropped_at.get(host.pk, -1)) > drops_before:
            return host  # named while it was being read: what was read may be the old row
        if len(_entries) >= MAX_ENTRIES:
            _drop_everything()
        _entries[key] = _Entry(_copy(host), now + settings.FLEETSITE_CHECKIN_CACHE_SECONDS)
        _keys_of.setdefault(host.pk, set()).add(key)
    return host


def forget_hosts(pks: Iterable[int]) -> None:
    """These hosts' rows were written: drop them here now, and everywhere once committed."""
    ids = sorted({pk for pk in pks if isinstance(pk, int)})
    if ids and _telling_others():
        _named(ids)


def forget_all() -> None:
    """Host rows were written that are not known by id (a filter, a cascade): drop every entry everywhere."""
    if _telling_others():
        _named(None)


def forget_queryset(queryset: Any) -> None:
    """The hosts a queryset's UPDATE or DELETE wrote: by id when its filter names ids, else all."""
    if _telling_others():
        pks = _filtered_pks(queryset.query.where)
        if pks is None:
            forget_all()
        else:
            forget_hosts(pks)


def clear() -> None:
    """Drop this process's entries and stop reading the stream until the next lookup (tests, outages)."""
    global _cursor
    with _lock:
        _drop_everything()
        _cursor = None


def _telling_others() -> bool:
    """Writes are announced wherever a process may cache, even from one whose own cache is off (Celery)."""
    return enabled() or _REDIS


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


def _named(ids: list[int] | None) -> None:
    """Drop the hosts here now; tell every process once the write is committed.

    Until the commit other connections read the old row, which is right until then; so a
    transaction's names are collected and announced together after it (a distributed/write that
    writes the host row and its policy answers is one message, not four).
    """
    _drop_here(ids)
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        _announce(ids)  # autocommit: the write is committed already
        return
    named = connection.__dict__.get(_PENDING)
    if named is None or not connection.run_on_commit:  # the first hook of this transaction: a new set
        named = connection.__dict__[_PENDING] = set()
    if ids is None or _ALL in named:
        named.clear()
        named.add(_ALL)
    else:
        named.update(ids)
    # One hook per name, all sharing the set: a savepoint's rollback discards the hooks registered
    # inside it, so the first surviving hook announces everything and the others find it empty.
    transaction.on_commit(lambda: _announce_named(named))


def _announce_named(named: set[int | str]) -> None:
    if named:
        ids = None if _ALL in named else sorted(pk for pk in named if isinstance(pk, int))
        named.clear()
        _drop_here(ids)
        _announce(ids)


def _drop_here(ids: list[int] | None) -> None:
    global _drops
    with _lock:
        _drops += 1
        if ids is None:
            _drop_everything()
            return
        for pk in ids:
            for key in _keys_of.pop(pk, ()):
                _entries.pop(key, None)
            _dropped_at.pop(pk, None)  # and in again at the end: the dict stays in drop order
            _dropped_at[pk] = _drops
        if len(_dropped_at) > MAX_ENTRIES:
            _prune_dropped()


def _prune_dropped() -> None:
    """Forget the older half of the drop records (under `_lock`), not every cached host.

    A record matters only to a load that began before its drop; a load that began before the
    newest forgotten one is not kept. (Clearing the cache instead made each of a large fleet's
    hosts read its row again whenever 50,000 distinct hosts had been written.)
    """
    global _pruned_through
    for pk in list(islice(_dropped_at, len(_dropped_at) // 2)):
        _pruned_through = max(_pruned_through, _dropped_at.pop(pk))


def _drop_everything() -> None:
    """Under `_lock`."""
    global _drops, _all_dropped_at
    _drops += 1
    _all_dropped_at = _drops
    _entries.clear()
    _keys_of.clear()
    _dropped_at.clear()


def _stream() -> tuple[Any, str]:
    from django_redis import get_redis_connection

    return get_redis_connection("default"), cache.make_key("checkin-cache:changes")


def _announce(ids: list[int] | None) -> None:
    global _replay_on_recovery
    if not _REDIS:
        return  # one process: dropping here was all there was to do
    client, stream = _stream()
    try:
        value = _ALL if ids is None else ",".join(map(str, ids))
        sharedcache.call(client.xadd, stream, {"ids": value}, maxlen=STREAM_LENGTH, approximate=True)
    except sharedcache.Unavailable:
        _replay_on_recovery = True
        clear()


def _caught_up(now: float) -> bool:
    """Whether this process has read what others changed up to REFRESH_SECONDS ago (always, without Redis)."""
    global _cursor, _read_at
    if not _REDIS:
        return True
    if _cursor is not None and now - _read_at < REFRESH_SECONDS:
        return True
    client, stream = _stream()
    try:
        if _cursor is None or now - _read_at > STALE_SECONDS:
            # Starting, or idle long enough for the stream to have been trimmed past us: from empty.
            last = sharedcache.call(client.xrevrange, stream, "+", "-", count=1)
            with _lock:
                _drop_everything()
            _cursor = last[0][0].decode() if last else "0-0"
        else:
            while True:
                read = sharedcache.call(client.xread, {stream: _cursor}, count=1000)
                changes = read[0][1] if read else []
                for entry_id, fields in changes:
                    value = fields.get(b"ids", b"").decode()
                    _drop_here(None if value == _ALL else [int(pk) for pk in value.split(",") if pk])
                    _cursor = entry_id.decode()
                if len(changes) < 1000:
                    break
    except sharedcache.Unavailable:
        clear()
        return False
    _read_at = now
    return True


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
