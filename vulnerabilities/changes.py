"""The software change log: which installs appeared or went since matching last looked.

Hosts send `software_installs_changed` in the check-in's transaction; the receiver adds one
multi-row INSERT to a check-in whose software changed and nothing to one whose software did not.
Matching reads the log as net changes per (host, software): the last entry wins.

A run deletes exactly the entries it read, never "everything up to the newest id": ids are handed
out at INSERT, so a check-in can commit an entry below the newest one after a run has looked, and
a run that deleted by id would drop that install unmatched.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any

from django.db import connection
from django.db.models import Q

from fleetsite.lib.rows import insert_many
from vulnerabilities.models import SoftwareChange

READ_BATCH = 50_000


def record(sender: Any, host_id: int, added: set[int], removed: set[int], **kwargs: Any) -> None:
    """Receiver of hosts.signals.software_installs_changed."""
    rows = [(host_id, software_id, False) for software_id in sorted(removed)]
    rows += [(host_id, software_id, True) for software_id in sorted(added)]
    insert_many(SoftwareChange, ("host_id", "software_id", "installed"), rows)


Ranges = list[tuple[int, int]]


@dataclass
class NetChanges:
    """Installs present now that were not at the last run, and installs gone since, per pair."""

    installed: set[tuple[int, int]] = field(default_factory=set)
    removed: set[tuple[int, int]] = field(default_factory=set)

    @property
    def hosts(self) -> set[int]:
        return {host for host, _ in self.installed} | {host for host, _ in self.removed}


# Ranges named in one statement (each `id BETWEEN a AND b`): a log has few gaps, so nearly always one.
RANGES_PER_STATEMENT = 500


def visible() -> Ranges:
    """The ids of the entries committed now, as (first, last) runs of consecutive ids, in order.

    The database finds the runs (`id - ROW_NUMBER()` is constant along one); a gap is an entry not
    committed yet or rolled back. What a run accounts for is these entries and no others.
    """
    table = connection.ops.quote_name(SoftwareChange._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT MIN(id), MAX(id) FROM (SELECT id, id - ROW_NUMBER() OVER (ORDER BY id) AS run FROM {table}) runs "
            "GROUP BY run ORDER BY 1"
        )
        return [(first, last) for first, last in cursor.fetchall()]


def count(ranges: Ranges) -> int:
    return sum(last - first + 1 for first, last in ranges)


def _within(ranges: Ranges) -> Iterator[Q]:
    """A condition per statement's worth of `ranges`."""
    for start in range(0, len(ranges), RANGES_PER_STATEMENT):
        yield reduce(or_, (Q(id__range=pair) for pair in ranges[start : start + RANGES_PER_STATEMENT]))


def read(ranges: Ranges) -> NetChanges:
    """Net changes of the entries in `ranges`. A pair removed and installed again in between counts as
    removed and installed: its open CVEs close and reopen, as they did on the host."""
    net = NetChanges()
    for condition in _within(ranges):
        last = 0
        while True:
            chunk = list(
                SoftwareChange.objects.filter(condition, id__gt=last)
                .order_by("id")
                .values_list("id", "host_id", "software_id", "installed")[:READ_BATCH]
            )
            for _, host_id, software_id, installed in chunk:
                pair = (host_id, software_id)
                if installed:
                    net.installed.add(pair)
                else:
                    net.removed.add(pair)
                    net.installed.discard(pair)
            if len(chunk) < READ_BATCH:
                break
            last = chunk[-1][0]
    return net


def forget(ranges: Ranges) -> None:
    """Delete the entries a run has accounted for, and only those."""
    for condition in _within(ranges):
        SoftwareChange.objects.filter(condition).delete()
