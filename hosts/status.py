"""Host status filters in SQL (fleet-protocol §5), using the stored `online_until`."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from hosts.choices import HostStatus
from hosts.constants import MISSING_AFTER, NEW_FOR


def status_q(status: str, now: datetime) -> Q:
    """A filter for one status; callers validate the name first."""
    if status == HostStatus.ONLINE:
        return Q(online_until__gt=now)
    if status == HostStatus.OFFLINE:
        return Q(online_until__lte=now)
    if status in (HostStatus.MISSING, HostStatus.MIA):
        return Q(seen_time__lte=now - MISSING_AFTER)
    if status == HostStatus.NEW:
        return Q(created_at__gte=now - NEW_FOR)
    raise ValueError(status)
