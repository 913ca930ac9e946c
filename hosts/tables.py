"""The hosts table: columns, their sort keys (HostFilterSet.ORDER_KEYS) and cell rendering."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils.html import format_html

from fleetsite.templatetags.fleetsite_ui import ago, bytes_gib
from fleetsite.ui import Column, Table, badge, link
from hosts.api.serializers import is_online
from hosts.constants import MISSING_AFTER

PLATFORM_NAMES = {
    "darwin": "macOS", "windows": "Windows", "chrome": "ChromeOS", "ubuntu": "Ubuntu", "rhel": "Red Hat",
    "centos": "CentOS", "debian": "Debian", "fedora": "Fedora", "amzn": "Amazon Linux", "arch": "Arch Linux",
}  # fmt: skip


def status_badge(seen_time: datetime, online: bool, now: datetime) -> str:
    if seen_time <= now - MISSING_AFTER:
        return badge("Missing", "missing")
    if online:
        return badge("Online", "online")
    return badge("Offline", "offline")


def disk(row: dict[str, Any]) -> str:
    if not row["gigs_total_disk_space"]:
        return "—"
    available = row["gigs_disk_space_available"]
    text = f"{available:,.0f} GB"
    if available < 32:
        return format_html('<span class="badge warn" title="Low disk space">{}</span>', text)
    return text


def issues(row: dict[str, Any]) -> str:
    return badge(f"{row['failing_policies']} failing", "fail") if row["failing_policies"] else ""


def _display_name(row: dict[str, Any]) -> str:
    return row["computer_name"] or row["hostname"] or f"host {row['id']}"


def hosts_table(rows: list[dict[str, Any]], now: datetime, selectable: bool) -> Table:
    """The list's columns over `hosts.api.serializers.summary_rows` dicts, the REST list's rows."""
    host_url = reverse("ui-host", args=[0]).removesuffix("0/")
    for row in rows:
        # Text from summary_rows, parsed once for two columns: far cheaper than the driver's datetimes.
        row["seen_at"] = datetime.fromisoformat(row["seen_time_text"])
    return Table(
        columns=[
            Column("Host", lambda h: link(f"{host_url}{h['id']}/", _display_name(h)), sort="display_name"),
            Column("Status", lambda h: status_badge(h["seen_at"], is_online(h, now), now), sort="status"),
            Column("Team", lambda h: h["team_name"] or "—", sort="team_name"),
            Column(
                "OS",
                lambda h: h["os_version"] or PLATFORM_NAMES.get(h["platform"], h["platform"]) or "—",
                sort="os_version",
            ),
            Column("osquery", lambda h: h["osquery_version"] or "—", sort="osquery_version"),
            Column("Private IP", lambda h: h["primary_ip"] or "—", sort="primary_ip"),
            Column("Serial", lambda h: h["hardware_serial"] or "—", sort="hardware_serial"),
            Column("Disk free", disk, sort="gigs_disk_space_available", numeric=True),
            Column("Memory", lambda h: bytes_gib(h["memory"]), sort="memory", numeric=True),
            Column("Issues", issues, numeric=True),
            Column("Last seen", lambda h: ago(h["seen_at"]), sort="seen_time"),
        ],  # fmt: skip
        rows=rows,
        selectable=selectable,
        row_id=lambda h: h["id"],
        empty="No hosts match these filters.",
    )
