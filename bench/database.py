"""The database server as a deployment would size it, for the length of a bench run.

Debian's MariaDB starts with a 128 MB InnoDB buffer pool. Fleet's reference architecture puts the
smallest fleets (up to 1,000 hosts) on a db.t3.small (2 GB) and fleets up to 25,000 hosts on a
db.r6g.large (16 GB), where InnoDB gets three quarters of the memory. At 10,000 hosts the
vulnerability history alone is about 500 MB, so with 128 MB every matching run measured the
disk, not the work. The bench raises the pool to `BENCH_BUFFER_POOL` (below even the smallest
reference database) and puts the old size back when it ends, and says so in its output.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from fleetsite.liveserver import mysql_server

BENCH_BUFFER_POOL = 2 * 1024**3


def _pool_size(cursor: Any) -> int:
    cursor.execute("SELECT @@innodb_buffer_pool_size")
    return int(cursor.fetchone()[0])


def _resize(cursor: Any, size: int) -> int:
    """Ask for `size` and wait (up to a minute) until the server has it; returns the size it took."""
    cursor.execute(f"SET GLOBAL innodb_buffer_pool_size = {int(size)}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        cursor.execute("SHOW STATUS LIKE 'Innodb_buffer_pool_resize_status'")
        row = cursor.fetchone()
        if not row or not row[1] or "complete" in row[1].lower() or "finished" in row[1].lower():
            break
        time.sleep(0.5)
    return _pool_size(cursor)


@contextlib.contextmanager
def sized_for_bench(database_url: str) -> Iterator[str]:
    """Yields a line for the bench's header saying what the database was given."""
    if not database_url.startswith("mysql"):
        yield "database server settings left as they are"
        return
    try:
        connection = mysql_server(database_url)
        cursor = connection.cursor()
        before = _pool_size(cursor)
    except Exception as error:  # noqa: BLE001 - the bench still runs, and says why
        yield f"InnoDB buffer pool left as it is ({error})"
        return
    if before >= BENCH_BUFFER_POOL:
        yield f"InnoDB buffer pool {before / 1024**2:,.0f} MB (left as it is)"
        connection.close()
        return
    try:
        now = _resize(cursor, BENCH_BUFFER_POOL)
    except Exception as error:  # noqa: BLE001 - no SUPER privilege: measure with what there is
        yield f"InnoDB buffer pool {before / 1024**2:,.0f} MB: could not raise it ({error})"
        connection.close()
        return
    try:
        yield (
            f"InnoDB buffer pool raised from {before / 1024**2:,.0f} MB to {now / 1024**2:,.0f} MB for this run "
            "(Fleet's smallest reference database, db.t3.small, has 2 GB of memory)"
        )
    finally:
        with contextlib.suppress(Exception):
            _resize(cursor, before)
        connection.close()
