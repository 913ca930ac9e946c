"""Hosts with the software the feed fixtures are about, and helpers to import the fixture feeds."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import transaction

from accounts.models import Team
from hosts.ingest import HostUpdate, save_host_update, software_checksum
from hosts.models import Host, HostSoftware, Software

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
LATER = Path(__file__).parent / "fixtures" / "later"


def _row(
    name: str, version: str, source: str, bundle_identifier: str = "", vendor: str = "", release: str = ""
) -> dict:
    return {"name": name, "version": version, "source": source, "bundle_identifier": bundle_identifier,
            "extension_for": "", "vendor": vendor, "release": release, "arch": ""}  # fmt: skip


def software(
    name: str, version: str, source: str, bundle_identifier: str = "", vendor: str = "", release: str = ""
) -> Software:
    """The shared Software row for a title at a version, as ingestion would store it (same checksum)."""
    values = _row(name, version, source, bundle_identifier, vendor, release)
    row, _ = Software.objects.get_or_create(checksum=software_checksum(values), defaults=values)
    return row


def install(host: Host, *items: Software) -> None:
    for item in items:
        HostSoftware.objects.get_or_create(host=host, software=item)


def report_software(host: Host, *items: Software) -> None:
    """The host's whole software list arriving in a check-in, through the ingest path agents use."""
    rows = [_row(i.name, i.version, i.source, i.bundle_identifier, i.vendor, i.release) for i in items]
    with transaction.atomic():
        save_host_update(host, HostUpdate(software=rows))


def make_host(name: str, platform: str, os_version: str, team: Team | None = None) -> Host:
    return Host.objects.create(hostname=name, osquery_host_id=name, platform=platform, os_version=os_version, team=team)


@pytest.fixture
def fleet(team: Team, other_team: Team) -> dict[str, Host]:
    """Five hosts: a Mac and a Windows PC on team A, two Debian 11 servers and an Ubuntu one on team B."""
    mac = make_host("mac-1", "darwin", "macOS 14.1.1", team)
    install(
        mac,
        software("Google Chrome.app", "120.0.6099.71", "apps", "com.google.Chrome"),
        software("requests", "2.28.1", "python_packages"),
        software("py", "1.11.0", "python_packages"),
    )
    win = make_host("win-1", "windows", "Windows 11 Pro 23H2 10.0.22631.2861", team)
    install(win, software("Mozilla Firefox (x64 en-US)", "117.0", "programs", vendor="Mozilla"))
    old = make_host("deb-old", "debian", "Debian GNU/Linux 11", other_team)
    install(old, software("openssl", "1.1.1n-0+deb11u3", "deb_packages"))
    patched = make_host("deb-patched", "debian", "Debian GNU/Linux 11", other_team)
    install(patched, software("openssl", "1.1.1n-0+deb11u4", "deb_packages"))
    # Same package name and version on Ubuntu: DSA-5343-1 is about Debian 11 only.
    ubuntu = make_host("ubuntu-1", "ubuntu", "Ubuntu 22.04.3 LTS", other_team)
    install(ubuntu, software("openssl", "1.1.1n-0+deb11u3", "deb_packages"))
    return {"mac": mac, "win": win, "old": old, "patched": patched, "ubuntu": ubuntu}
