"""Host JSON in Fleet's shape (fleet-protocol §4.2), built as plain dicts: host lists are hot."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from fleetsite.lib.prepared import RowsByPk
from fleetsite.lib.sqltime import RFC3339
from hosts.choices import HostStatus
from hosts.device_mapping import end_users_json
from hosts.models import Host

NANOSECONDS = 1_000_000_000


def rfc3339(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def host_status(host: Host, now: datetime) -> str:
    """§5: the host JSON says only online or offline."""
    return HostStatus.ONLINE if host.online_until > now else HostStatus.OFFLINE


_TEXT_FIELDS = (
    "hostname", "computer_name", "uuid", "platform", "platform_like", "osquery_version", "orbit_version",
    "fleet_desktop_version", "scripts_enabled", "os_version", "build", "code_name", "memory", "cpu_type",
    "cpu_subtype", "cpu_brand", "cpu_physical_cores", "cpu_logical_cores", "hardware_vendor", "hardware_model",
    "hardware_version", "hardware_serial", "primary_ip", "primary_mac", "public_ip", "distributed_interval",
    "config_tls_refresh", "logger_tls_period", "team_id", "gigs_disk_space_available",
    "percent_disk_space_available", "gigs_total_disk_space", "gigs_all_disk_space", "timezone",
    "refetch_requested", "disk_encryption_enabled",
)  # fmt: skip
_TIME_FIELDS = (
    "created_at", "updated_at", "detail_updated_at", "label_updated_at", "policy_updated_at",
    "last_enrolled_at", "last_restarted_at", "seen_time", "refetch_critical_queries_until",
)  # fmt: skip

# Suffix of the text annotations that stand in for the timestamp columns (a name clash is not allowed).
_AS_TEXT = "_text"

# Fleet's shape for a host that is not MDM-managed.
_NO_MDM = {
    "enrollment_status": None,
    "server_url": None,
    "name": "",
    "encryption_key_available": False,
    "connected_to_fleet": False,
    "dep_profile_error": False,
}


def _issues(failing: int) -> dict[str, int]:
    return {"failing_policies_count": failing, "critical_vulnerabilities_count": 0, "total_issues_count": failing}


def host_policies(host: Host) -> list[dict[str, Any]]:
    """The host's policies with Fleet's `response`: "pass", "fail" or "" (no answer yet)."""
    from queries.models import PolicyMembership

    answers = (
        PolicyMembership.objects.filter(host.belongs_here("policy__"), host=host)
        .select_related("policy")
        .order_by("policy__name")
    )
    return [
        {
            "id": answer.policy.pk,
            "name": answer.policy.name,
            "query": answer.policy.query,
            "description": answer.policy.description,
            "resolution": answer.policy.resolution,
            "platform": answer.policy.platform,
            "critical": answer.policy.critical,
            "team_id": answer.policy.team_id,
            "response": {True: "pass", False: "fail"}.get(answer.passes, ""),
            "updated_at": rfc3339(answer.updated_at),
        }
        for answer in answers
    ]


def failing_policies_count() -> Coalesce:
    """The host's failing policies, as one correlated subquery (no join, no duplicate rows)."""
    from queries.models import PolicyMembership

    failing = (
        PolicyMembership.objects.filter(host_id=OuterRef("pk"), passes=False)
        .filter(Q(policy__team__isnull=True) | Q(policy__team_id=OuterRef("team_id")))
        .order_by()
        .values("host_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(failing), 0)


def _summary_columns() -> QuerySet:
    return Host.objects.values(
        "id",
        *_TEXT_FIELDS,
        "uptime_seconds",
        team_name=F("team__name"),
        failing_policies=failing_policies_count(),
        **{f"{name}{_AS_TEXT}": RFC3339(name) for name in (*_TIME_FIELDS, "online_until")},
    )


# The rows carry the timestamps' text under the JSON names (`created_at`, not `created_at_text`).
_summary_rows = RowsByPk(_summary_columns, rename={f"{name}{_AS_TEXT}": name for name in _TIME_FIELDS})


def summary_rows(host_ids: Iterable[int]) -> list[dict[str, Any]]:
    """The hosts' rows for `summary_from_row`, in the order of `host_ids`, timestamps as text.

    One prepared query: the database formats the timestamps, so a page of hosts builds no
    model instances and converts no datetimes (fleetsite/lib/sqltime.py, fleetsite/lib/prepared.py).
    """
    return _summary_rows.fetch(host_ids)


def summary_from_row(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A host as in `GET /hosts`, made from a `summary_rows` dict in place (no copy of 50 keys per host)."""
    team_name = row["team_name"]
    online = datetime.fromisoformat(row.pop(f"online_until{_AS_TEXT}")) > now
    row.update(
        display_name=row["computer_name"] or row["hostname"],
        display_text=row["hostname"],
        uptime=row.pop("uptime_seconds") * NANOSECONDS,
        fleet_id=row["team_id"],
        fleet_name=team_name,
        pack_stats=None,
        issues=_issues(row.pop("failing_policies") or 0),
        mdm=dict(_NO_MDM),
        status=HostStatus.ONLINE if online else HostStatus.OFFLINE,
    )
    return row


def host_summary(host: Host, now: datetime) -> dict[str, Any]:
    """One host as in `GET /hosts`, from a model instance (the detail views already hold one)."""
    row: dict[str, Any] = {name: getattr(host, name) for name in ("id", *_TEXT_FIELDS, "uptime_seconds")}
    row.update({name: rfc3339(getattr(host, name)) for name in _TIME_FIELDS})
    row.update(
        team_name=host.team.name if host.team_id else None,
        failing_policies=0,
        **{f"online_until{_AS_TEXT}": rfc3339(host.online_until)},
    )
    return summary_from_row(row, now)


def host_detail(host: Host, now: datetime, include_software: bool = True) -> dict[str, Any]:
    """A host as in `GET /hosts/{id}`: the summary plus labels, users and software."""
    data = host_summary(host, now)
    data["labels"] = [
        {
            "id": label.id,
            "name": label.name,
            "description": label.description,
            "query": label.query,
            "platform": label.platform,
            "label_type": label.label_type,
            "label_membership_type": label.label_membership_type,
            "created_at": rfc3339(label.created_at),
            "updated_at": rfc3339(label.updated_at),
        }
        for label in host.labels.filter(host.belongs_here()).order_by("id")
    ]
    data["packs"] = []
    data["policies"] = host_policies(host)
    failing = sum(1 for policy in data["policies"] if policy["response"] == "fail")
    data["issues"] = _issues(failing)
    data["users"] = [
        {
            "uid": user.uid,
            "username": user.username,
            "type": user.type,
            "groupname": user.groupname,
            "shell": user.shell,
        }
        for user in host.users.order_by("uid", "username")
    ]
    if include_software:
        from vulnerabilities.api.serializers import host_software_vulnerabilities

        cves = host_software_vulnerabilities(host.pk)
        data["software"] = [
            {
                "id": install.software.pk,
                "name": install.software.name,
                "version": install.software.version,
                "source": install.software.source,
                "bundle_identifier": install.software.bundle_identifier or None,
                "extension_for": install.software.extension_for,
                "vendor": install.software.vendor,
                "release": install.software.release,
                "arch": install.software.arch,
                "installed_paths": [install.installed_path] if install.installed_path else [],
                "last_opened_at": rfc3339(install.last_opened_at),
                "vulnerabilities": cves.get(install.software.pk, []),
            }
            for install in host.software_installs.select_related("software").order_by(
                "software__name", "software__version"
            )
        ]
    data["batteries"] = []
    data["end_users"] = end_users_json(host)
    return data
