"""The hosts list's table: its fast row writer must print exactly what its columns say."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Team
from hosts.models import Host
from hosts.tables import hosts_table, table_rows
from queries.models import Policy, PolicyMembership

pytestmark = pytest.mark.django_db


def test_fast_cells_write_the_same_html_as_the_columns() -> None:
    now = timezone.now()
    team = Team.objects.create(name="R&D <lab>")
    hosts = [
        Host.objects.create(
            osquery_host_id="a", hostname='a&b<"c">.example', computer_name="", team=team, platform="darwin",
            os_version="", osquery_version="5.13.1", primary_ip="10.0.0.1", hardware_serial="S'1",
            gigs_total_disk_space=500, gigs_disk_space_available=12.5, memory=16 * 1024**3,
            seen_time=now, online_until=now + timedelta(seconds=60),
        ),
        Host.objects.create(
            osquery_host_id="b", hostname="", computer_name="", platform="windows", os_version="Windows 11",
            gigs_total_disk_space=0, seen_time=now - timedelta(days=40), online_until=now - timedelta(days=40),
        ),
        Host.objects.create(
            osquery_host_id="c", hostname="c", computer_name="Café", platform="ubuntu", memory=0,
            gigs_total_disk_space=1000, gigs_disk_space_available=800, seen_time=now - timedelta(hours=3),
            online_until=now - timedelta(hours=3),
        ),
    ]  # fmt: skip
    policy = Policy.objects.create(name="Disk encrypted", query="SELECT 1")
    PolicyMembership.objects.create(policy=policy, host=hosts[0], passes=False)
    table = hosts_table(table_rows([host.pk for host in hosts]), now, selectable=True)

    assert table.fast_cells is not None
    for row in table.rows:
        assert table.fast_cells(row) == table.cells(row)
    body = str(table.body())
    assert body.count("<tr>") == 3 and body.count("<td") == 3 * (len(table.columns) + 1)
    assert "a&amp;b&lt;&quot;c&quot;&gt;.example" in body and "R&amp;D &lt;lab&gt;" in body and "S&#x27;1" in body
    assert "Low disk space" in body and "1 failing" in body and f"host {hosts[1].pk}" in body
    assert body.index("Online") < body.index("Missing") < body.index("Offline")
