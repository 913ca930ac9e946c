"""The software change log: which installs appeared or went since matching last looked.

Hosts send `software_installs_changed` in the check-in's transaction; the receiver adds one
multi-row INSERT to a check-in whose software changed and nothing to one whose software did not.
Matching reads the log as net changes per (host, software): the last entry wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Max

from fleetsite.lib.rows import insert_many
from vulnerabilities.models import SoftwareChange

READ_BATCH = 50_000


def record(sender: Any, host_id: int, added: set[int], removed: set[int], **kwargs: Any) -> None:
    """Receiver of hosts.signals.software_installs_changed."""
    rows = [(host_id, software_id, False) for software_id in sorted(removed)]
    rows += [(host_id, software_id, True) for software_id in sorted(added)]
    insert_many(SoftwareChange, ("host_id", "software_id", "installed"), rows)


@dataclass
class NetChanges:
    """Installs present now that were not at the last run, and installs gone since, per pair."""

    upto: int = 0
    installed: set[tuple[int, int]] = field(default_factory=set)
    removed: set[tuple[int, int]] = field(default_factory=set)

    @property
    def hosts(self) -> set[int]:
        return {host for host, _ in self.installed} | {host for host, _ in self.removed}


def latest_id() -> int:
    return SoftwareChange.objects.aggregate(top=Max("id"))["top"] or 0


def pending_count(upto: int) -> int:
    return SoftwareChange.objects.filter(id__lte=upto).count()


def read(upto: int) -> NetChanges:
    """Net changes in entries up to `upto`. A pair removed and installed again in between counts as
    removed and installed: its open CVEs close and reopen, as they did on the host."""
    net = NetChanges(upto=upto)
    last = 0
    while True:
        chunk = list(
            SoftwareChange.objects.filter(id__gt=last, id__lte=upto)
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
            return net
        last = chunk[-1][0]


def forget(upto: int) -> None:
    """Delete the entries a run has accounted for."""
    SoftwareChange.objects.filter(id__lte=upto).delete()
