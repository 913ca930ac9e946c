"""Batched host seen times (fleet-protocol §5: Fleet writes them asynchronously too).

Check-ins only note the time in memory; a background thread writes all pending times in one
statement per batch. A check-in therefore never writes to the database just to say "I'm here".
"""

from __future__ import annotations

import atexit
import logging
import threading
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections

from hosts.models import Host

logger = logging.getLogger(__name__)

_BATCH_SIZE = 500


class SeenBuffer:
    """Pending (seen_time, online_until) per host id, flushed together."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[datetime, datetime]] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def mark(self, host_id: int, seen: datetime, online_until: datetime) -> None:
        with self._lock:
            self._pending[host_id] = (seen, online_until)
        if self._thread is None and settings.FLEETSITE_SEEN_FLUSH_INTERVAL > 0:
            self._start()

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def discard(self) -> None:
        """Drop pending times without writing them (tests start from a clean buffer)."""
        with self._lock:
            self._pending.clear()

    def flush(self) -> int:
        """Write every pending seen time; returns how many hosts were updated."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        hosts = [Host(pk=host_id, seen_time=seen, online_until=until) for host_id, (seen, until) in pending.items()]
        Host.objects.bulk_update(hosts, ["seen_time", "online_until"], batch_size=_BATCH_SIZE)
        return len(hosts)

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="seen-flusher", daemon=True)
            self._thread.start()
        atexit.register(self.stop)

    def _run(self) -> None:
        while not self._stop.wait(settings.FLEETSITE_SEEN_FLUSH_INTERVAL):
            self._flush_safely()

    def _flush_safely(self) -> None:
        try:
            close_old_connections()
            self.flush()
        except Exception:  # a lost batch of seen times must not kill the flusher
            logger.exception("flushing host seen times failed")

    def stop(self) -> None:
        """Flush what is left; called at process exit."""
        self._stop.set()
        self._flush_safely()


buffer = SeenBuffer()
