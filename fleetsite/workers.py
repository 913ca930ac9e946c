"""Whether a Celery worker and beat are running: heartbeats in the shared cache.

With REDIS_URL, background work (installer builds, scheduled jobs, webhooks) waits in Redis for
a `celery worker` and a `celery beat`. When neither runs, nothing fails: jobs just stay queued.
So each process writes a heartbeat every HEARTBEAT_SECONDS, and /healthz?check=worker, the
dashboard, the installer pages and queued builds say when one has not been seen for STALE_AFTER.
Without REDIS_URL the server process runs tasks and the schedule itself: always "running".
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0
STALE_AFTER = 60.0  # four missed heartbeats: the UI says so within a minute of a stop
KINDS = ("worker", "beat")
_KEY = "fleetsite:heartbeat:{}"


def record(kind: str, now: float | None = None) -> None:
    """Note that a `kind` process is alive; a cache outage only delays the next heartbeat."""
    try:
        cache.set(_KEY.format(kind), time.time() if now is None else now, timeout=24 * 3600)
    except Exception as exc:  # noqa: BLE001 - Redis down: the next beat retries
        logger.warning("could not record the %s heartbeat: %s", kind, exc)


def last_seen(kind: str) -> float | None:
    try:
        value = cache.get(_KEY.format(kind))
    except Exception:  # noqa: BLE001 - unreachable cache reads as "not seen"
        return None
    return float(value) if isinstance(value, int | float) else None


@dataclass(frozen=True)
class ProcessStatus:
    kind: str
    running: bool
    in_process: bool  # no REDIS_URL: the server runs tasks itself
    seen_seconds_ago: float | None

    @property
    def message(self) -> str:
        """One sentence for people: empty when all is well."""
        if self.running:
            return ""
        command = "celery -A fleetsite worker" if self.kind == "worker" else "celery -A fleetsite beat"
        when = (
            "has never been seen"
            if self.seen_seconds_ago is None
            else f"was last seen {int(self.seen_seconds_ago)} seconds ago"
        )
        effect = "jobs and installer builds stay queued" if self.kind == "worker" else "scheduled jobs do not run"
        return f"No Celery {self.kind} is running: one {when}, so {effect}. Start `{command}`."


def status(kind: str, now: float | None = None) -> ProcessStatus:
    if not settings.REDIS_URL:
        return ProcessStatus(kind, running=True, in_process=True, seen_seconds_ago=None)
    seen = last_seen(kind)
    age = None if seen is None else max(0.0, (time.time() if now is None else now) - seen)
    return ProcessStatus(kind, running=age is not None and age <= STALE_AFTER, in_process=False, seen_seconds_ago=age)


def problems() -> list[str]:
    """What is missing, one sentence each (the banners on the dashboard and installer pages)."""
    return [item.message for item in (status(kind) for kind in KINDS) if not item.running]


class Heartbeat(threading.Thread):
    """Writes `kind`'s heartbeat now and every HEARTBEAT_SECONDS while the process lives."""

    def __init__(self, kind: str) -> None:
        super().__init__(name=f"{kind}-heartbeat", daemon=True)
        self.kind = kind
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            record(self.kind)
            self.stopped.wait(HEARTBEAT_SECONDS)


_started: dict[str, Heartbeat] = {}


def start_heartbeat(kind: str) -> Heartbeat:
    """Start `kind`'s heartbeat once per process (Celery's worker_ready and beat_init signals)."""
    if kind not in _started:
        _started[kind] = Heartbeat(kind)
        _started[kind].start()
    return _started[kind]
