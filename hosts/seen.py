"""Batched host seen times (fleet-protocol §5: Fleet writes them asynchronously too).

Check-ins only note the time in memory; a background thread writes all pending times in one
statement per batch. A check-in therefore never writes to the database just to say "I'm here".

The batch is one UPDATE built as text (`CASE id WHEN 12 THEN %s ...`), not `bulk_update`:
measured in a running server, the ORM's CASE/WHEN expressions cost about 0.1 CPU-ms per host,
a quarter of an idle osquery check-in (docs/profiles/README.md).
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import connection

from fleetsite.lib.db import atomic_with_retry
from fleetsite.lib.flusher import BatchBuffer
from hosts.models import Host

_BATCH_SIZE = 500
_COLUMNS = ("seen_time", "online_until")


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
        # Two parameters a host: SQLite takes at most 999 a statement.
        size = min(_BATCH_SIZE, (connection.features.max_query_params or 2 * _BATCH_SIZE) // len(_COLUMNS))
        for start in range(0, len(ids), size):
            batch = ids[start : start + size]
            atomic_with_retry(lambda batch=batch: _write_times(batch, pending))
        return len(ids)


def _write_times(ids: list[int], pending: dict[int, tuple[datetime, datetime]]) -> None:
    """One UPDATE for these hosts; ids are integers, written into the SQL like `fleetsite.lib.prepared` does."""
    adapt = connection.ops.adapt_datetimefield_value
    quote = connection.ops.quote_name
    meta = Host._meta
    pk = quote(meta.pk.column)
    placeholder = "%s"
    if connection.features.requires_casted_case_in_updates:  # PostgreSQL: the CASE needs the type
        placeholder = f"CAST(%s AS {meta.get_field('seen_time').db_type(connection)})"
    assignments, params = [], []
    for position, name in enumerate(_COLUMNS):
        whens = " ".join(f"WHEN {int(host_id)} THEN {placeholder}" for host_id in ids)
        assignments.append(f"{quote(meta.get_field(name).column)} = CASE {pk} {whens} END")
        params += [adapt(pending[host_id][position]) for host_id in ids]
    in_list = ", ".join(str(int(host_id)) for host_id in ids)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {quote(meta.db_table)} SET {', '.join(assignments)} WHERE {pk} IN ({in_list})", params)


buffer = SeenBuffer()
