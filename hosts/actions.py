"""Host changes people make (transfer, delete, refetch), shared by the UI and the REST API."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts import permissions
from accounts.models import Team, User
from activities import types
from activities.record import record
from hosts import summary
from hosts.models import Host

# Activity details list host names up to this many; the count is always exact.
NAMES_IN_DETAILS = 100


class HostActionDenied(PermissionError):
    """The user may see these hosts but not change them all."""


def _check_writable(user: User, hosts: QuerySet) -> None:
    writable = permissions.writable_team_ids(user)
    if writable is None:
        return
    if hosts.exclude(team_id__in=writable).exists():
        raise HostActionDenied("you may not change some of these hosts")


@transaction.atomic
def transfer(user: User, team: Team | None, hosts: QuerySet) -> int:
    """Move hosts to `team` (None: no team). The user must be able to write both ends."""
    if not permissions.can_write_team(user, team.pk if team else None):
        raise HostActionDenied("you may not add hosts to this team")
    _check_writable(user, hosts)
    ids = list(hosts.values_list("pk", flat=True))
    if not ids:
        return 0
    names = list(Host.objects.filter(pk__in=ids[:NAMES_IN_DETAILS]).values_list("hostname", flat=True))
    for start in range(0, len(ids), 5000):
        Host.objects.filter(pk__in=ids[start : start + 5000]).update(team=team, updated_at=timezone.now())
    summary.forget_counts()
    details = {
        "team_id": team.pk if team else None,
        "team_name": team.name if team else None,
        "host_ids": ids[:NAMES_IN_DETAILS],
        "host_display_names": names,
        "host_count": len(ids),
    }
    record(user, types.TRANSFERRED_HOSTS, details, host=Host(pk=ids[0]) if len(ids) == 1 else None, team=team)
    return len(ids)


@transaction.atomic
def delete(user: User, hosts: QuerySet) -> int:
    """Delete hosts; their agents get 401 and re-enroll as new hosts (fleet-protocol §4.2)."""
    _check_writable(user, hosts)
    rows = list(hosts.values_list("pk", "hostname", "team_id")[: NAMES_IN_DETAILS + 1])
    ids = list(hosts.values_list("pk", flat=True))
    if not ids:
        return 0
    for start in range(0, len(ids), 2000):
        Host.objects.filter(pk__in=ids[start : start + 2000]).delete()
    summary.forget_counts()
    if len(ids) == 1:
        host_id, hostname, team_id = rows[0]
        details = {"host_id": host_id, "host_display_name": hostname, "team_id": team_id}
        record(user, types.DELETED_HOST, details, team=Team(pk=team_id) if team_id else None)
    else:
        details = {"host_ids": ids[:NAMES_IN_DETAILS], "host_display_names": [r[1] for r in rows][:NAMES_IN_DETAILS]}
        record(user, types.DELETED_HOST, {**details, "host_count": len(ids)})
    return len(ids)


def refetch(user: User, host: Host) -> None:
    """Ask the host for fresh vitals at its next check-in."""
    Host.objects.filter(pk=host.pk).update(refetch_requested=True, updated_at=timezone.now())
