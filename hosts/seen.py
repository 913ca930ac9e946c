"""Batched host seen times (fleet-protocol §5: Fleet writes them asynchronously too).

Check-ins only note the time in memory; a background thread writes all pending times in one
statement per batch. A check-in therefore never writes to the database just to say "I'm here".
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from fleetsite.lib.db import atomic_with_retry
from fleetsite.lib.flusher import BatchBuffer
from hosts.models import Host

_BATCH_SIZE = 500


class SeenBuffer(BatchBuffer[int, tuple[datetime, datetime]]):
    """Pending (seen_time, online_until) per host id, flushed together."""

    thread_name = "seen-flusher"

    def interval(self) -> float:
        return settings.FLEETSITE_SEEN_FLUSH_INTERVAL

    def mark(self, host_id: int, seen: datetime, online_until: datetime) -> None:
        self.add(host_id, (seen, online_until))

    def write_batch(self, pending: dict[int, tuple[datetime, datetime]]) -> int:
        """Each batch in its own short transaction, hosts in id order, retried if chosen as a deadlock victim.

        Batch script runs and agents' detail writes lock host rows too; taking them in one order
        keeps cycles rare, and a victim batch is written again rather than lost.
        """
        ids = sorted(pending)
        for start in range(0, len(ids), _BATCH_SIZE):
            hosts = [Host(pk=host_id, seen_time=pending[host_id][0], online_until=pending[host_id][1])
                     for host_id in ids[start : start + _BATCH_SIZE]]  # fmt: skip
            atomic_with_retry(lambda hosts=hosts: Host.objects.bulk_update(hosts, ["seen_time", "online_until"]))
        return len(ids)


buffer = SeenBuffer()
