"""Whether fleetd has work waiting: a host column that spares orbit config its queue queries.

orbit config is about a fifth of agent traffic, and almost every host has nothing queued; two
queue queries on each one tripled its cost. Queuing a script or an install stamps the host's
`work_queued_at` (in the queuing transaction); orbit config reads the queue only for a stamped
host, and clears the stamp when it finds the queue empty, unless another item was queued
meanwhile (the clear matches the stamp it read, so a newer one stays).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone

from hosts.models import Host


def mark_work_queued(host_ids: Iterable[int]) -> None:
    """Scripts or installs were queued for these hosts: their next orbit config looks at the queue."""
    ids = sorted(set(host_ids))
    if ids:
        Host.objects.filter(pk__in=ids).update(work_queued_at=timezone.now())


def mark_on_create(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """post_save receiver for queue rows (script executions, software installs)."""
    if created and not raw and instance.host_id is not None:
        mark_work_queued([instance.host_id])


def clear_if_unchanged(host_id: int, seen: datetime) -> None:
    """The queue was empty when read with stamp `seen`: clear it, unless a newer stamp arrived."""
    Host.objects.filter(pk=host_id, work_queued_at=seen).update(work_queued_at=None)
