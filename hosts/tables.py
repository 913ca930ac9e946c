"""The hosts table: columns, their sort keys (HostFilterSet.ORDER_KEYS) and cell rendering."""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse
from django.utils.html import format_html

from fleetsite.templatetags.fleetsite_ui import ago, bytes_gib
from fleetsite.ui import Column, Table, badge, link
from hosts.constants import MISSING_AFTER
from hosts.models import Host

PLATFORM_NAMES = {
    "darwin": "macOS", "windows": "Windows", "chrome": "ChromeOS", "ubuntu": "Ubuntu", "rhel": "Red Hat",
    "centos": "CentOS", "debian": "Debian", "fedora": "Fedora", "amzn": "Amazon Linux", "arch": "Arch Linux",
}  # fmt: skip


def status_badge(host: Host, now: datetime) -> str:
    if host.seen_time <= now - MISSING_AFTER:
        return badge("Missing", "missing")
    if host.online_until > now:
        return badge("Online", "online")
    return badge("Offline", "offline")


def disk(host: Host) -> str:
    if not host.gigs_total_disk_space:
        return "—"
    text = f"{host.gigs_disk_space_available:,.0f} GB"
    if host.gigs_disk_space_available < 32:
        return format_html('<span class="badge warn" title="Low disk space">{}</span>', text)
    return text


def hosts_table(rows: list[Host], now: datetime, selectable: bool) -> Table:
    return Table(
        columns=[
            Column(
                "Host",
                lambda h: link(reverse("ui-host", args=[h.pk]), h.display_name or f"host {h.pk}"),
                sort="display_name",
            ),
            Column("Status", lambda h: status_badge(h, now), sort="status"),
            Column("Team", lambda h: h.team.name if h.team_id else "—", sort="team_name"),
            Column(
                "OS", lambda h: h.os_version or PLATFORM_NAMES.get(h.platform, h.platform) or "—", sort="os_version"
            ),
            Column("osquery", lambda h: h.osquery_version or "—", sort="osquery_version"),
            Column("Private IP", lambda h: h.primary_ip or "—", sort="primary_ip"),
            Column("Serial", lambda h: h.hardware_serial or "—", sort="hardware_serial"),
            Column("Disk free", disk, sort="gigs_disk_space_available", numeric=True),
            Column("Memory", lambda h: bytes_gib(h.memory), sort="memory", numeric=True),
            Column(
                "Issues",
                lambda h: (
                    badge(f"{h.failing_policies_count} failing", "fail")
                    if getattr(h, "failing_policies_count", 0)
                    else ""
                ),
                numeric=True,
            ),
            Column("Last seen", lambda h: ago(h.seen_time), sort="seen_time"),
        ],  # fmt: skip
        rows=rows,
        selectable=selectable,
        empty="No hosts match these filters.",
    )
