"""Host bulk actions, identifier lookup, summary and the new list filters over REST (fleet-protocol §4.2)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Team, User
from activities.models import Activity
from conftest import AgentClient, APIClient
from enrollment.tests.fixtures import payload
from fleetsite.lib.tokens import digest
from hosts.models import Host, HostSoftware, Software
from queries.models import Policy, PolicyMembership

pytestmark = pytest.mark.django_db
BASE = "/api/latest/fleet"


def _hosts(team: Team | None, n: int, prefix: str) -> list[Host]:
    return [Host.objects.create(osquery_host_id=f"{prefix}{i}", hostname=f"{prefix}{i}", team=team) for i in range(n)]


def test_transfer_moves_hosts_and_records_it(api: APIClient, team: Team) -> None:
    hosts = _hosts(None, 3, "h")
    response = api.post(f"{BASE}/hosts/transfer", {"team_id": team.pk, "hosts": [h.pk for h in hosts]})
    assert response.status_code == 200 and response.json() == {}
    assert Host.objects.filter(team=team).count() == 3
    activity = Activity.objects.get(type="transferred_hosts")
    assert activity.details["team_name"] == "Team A" and activity.details["host_count"] == 3


def test_transfer_by_filter_needs_a_filter(api: APIClient, team: Team) -> None:
    _hosts(None, 2, "web-")
    _hosts(None, 1, "db-")
    assert api.post(f"{BASE}/hosts/transfer/filter", {"team_id": team.pk, "filters": {}}).status_code == 422
    response = api.post(f"{BASE}/hosts/transfer/filter", {"team_id": team.pk, "filters": {"query": "web-"}})
    assert response.status_code == 200
    assert sorted(Host.objects.filter(team=team).values_list("hostname", flat=True)) == ["web-0", "web-1"]


def test_transfer_to_an_unknown_team_or_with_unknown_hosts_is_404_and_changes_nothing(api: APIClient) -> None:
    hosts = _hosts(None, 1, "h")
    assert api.post(f"{BASE}/hosts/transfer", {"team_id": 999, "hosts": [hosts[0].pk]}).status_code == 404
    assert api.post(f"{BASE}/hosts/transfer", {"team_id": None, "hosts": [hosts[0].pk, 999]}).status_code == 404
    assert api.post(f"{BASE}/hosts/transfer", {"team_id": None, "hosts": "x"}).status_code == 422


def test_maintainer_cannot_move_hosts_out_of_another_team(
    api_client_as: Callable, maintainer: User, team: Team, other_team: Team
) -> None:
    theirs = _hosts(other_team, 1, "b")
    response = api_client_as(maintainer).post(f"{BASE}/hosts/transfer", {"team_id": team.pk, "hosts": [theirs[0].pk]})
    assert response.status_code == 404
    assert Host.objects.get(pk=theirs[0].pk).team_id == other_team.pk


def test_bulk_delete_by_ids_and_by_filter(api: APIClient) -> None:
    hosts = _hosts(None, 3, "old-")
    _hosts(None, 1, "keep-")
    assert api.post(f"{BASE}/hosts/delete", {"ids": [hosts[0].pk]}).status_code == 200
    assert api.post(f"{BASE}/hosts/delete", {"filters": {"query": "old-"}}).status_code == 200
    assert list(Host.objects.values_list("hostname", flat=True)) == ["keep-0"]
    assert api.post(f"{BASE}/hosts/delete", {}).status_code == 422
    assert Activity.objects.filter(type="deleted_host").count() == 2


def test_get_host_by_identifier(api: APIClient) -> None:
    host = Host.objects.create(
        osquery_host_id="oid", hostname="box", uuid="U-1", hardware_serial="S-1", node_key_digest=digest("nk")
    )
    for identifier in ("box", "U-1", "S-1", "oid", "nk"):
        response = api.get(f"{BASE}/hosts/identifier/{identifier}")
        assert response.status_code == 200 and response.json()["host"]["id"] == host.pk
    assert api.get(f"{BASE}/hosts/identifier/nope").status_code == 404


def test_host_summary_counts(api: APIClient, team: Team) -> None:
    now = timezone.now()
    Host.objects.create(osquery_host_id="on", platform="darwin", online_until=now + timedelta(minutes=1))
    Host.objects.create(osquery_host_id="off", platform="ubuntu", online_until=now - timedelta(minutes=1))
    Host.objects.create(osquery_host_id="gone", platform="windows", seen_time=now - timedelta(days=40),
                        online_until=now - timedelta(days=40), gigs_disk_space_available=3, team=team)  # fmt: skip
    body = api.get(f"{BASE}/host_summary", {"low_disk_space": 10}).json()
    assert (body["totals_hosts_count"], body["online_count"], body["offline_count"]) == (3, 1, 2)
    assert body["missing_30_days_count"] == body["mia_count"] == 1
    assert body["all_linux_count"] == 1 and body["low_disk_space_count"] == 3
    assert {p["platform"]: p["hosts_count"] for p in body["platforms"]} == {"darwin": 1, "ubuntu": 1, "windows": 1}
    assert body["new_count"] == 3
    scoped = api.get(f"{BASE}/host_summary", {"team_id": team.pk}).json()
    assert (scoped["totals_hosts_count"], scoped["offline_count"], scoped["all_linux_count"]) == (1, 1, 0)


def test_host_counts_are_shared_per_scope_and_recounted_when_hosts_come_move_or_go(
    settings: Any,
    api: APIClient,
    api_client_as: Callable,
    maintainer: User,
    team: Team,
    agent: AgentClient,
    enroll_secret: str,
    django_assert_max_num_queries: Any,
) -> None:
    settings.FLEETSITE_HOST_COUNTS_SECONDS = 60
    total = lambda client, **params: client.get(f"{BASE}/host_summary", params).json()["totals_hosts_count"]  # noqa: E731
    first, second = _hosts(None, 2, "g")
    _hosts(team, 1, "t")
    assert total(api) == 3
    Host.objects.create(osquery_host_id="unannounced")  # written behind the server's back: not seen until it expires
    with django_assert_max_num_queries(3) as shared:  # the token and its user; no host is counted
        assert total(api) == 3
    assert not [q for q in shared.captured_queries if "hosts_host" in q["sql"]]
    # Another scope or filter never reads the admin's entry.
    assert total(api_client_as(maintainer)) == 1
    assert total(api, team_id=team.pk) == 1
    assert total(api, platform="linux") == 0
    # Hosts that enroll, move or are deleted are counted again at once.
    agent.json("/api/osquery/enroll", payload("enroll_ubuntu", enroll_secret=enroll_secret))
    assert total(api) == 5
    assert api.post(f"{BASE}/hosts/transfer", {"team_id": team.pk, "hosts": [first.pk]}).status_code == 200
    assert total(api_client_as(maintainer)) == 2
    assert api.post(f"{BASE}/hosts/delete", {"ids": [second.pk]}).status_code == 200
    assert total(api) == 4


def test_list_filters_by_policy_response_and_software(api: APIClient) -> None:
    passing, failing, silent = _hosts(None, 3, "p")
    policy = Policy.objects.create(name="FileVault", query="SELECT 1")
    PolicyMembership.objects.create(policy=policy, host=passing, passes=True)
    PolicyMembership.objects.create(policy=policy, host=failing, passes=False)
    names = lambda params: sorted(h["hostname"] for h in api.get(f"{BASE}/hosts", params).json()["hosts"])  # noqa: E731
    assert names({"policy_id": policy.pk, "policy_response": "failing"}) == ["p1"]
    assert names({"policy_id": policy.pk, "policy_response": "passing"}) == ["p0"]
    assert names({"policy_id": policy.pk}) == ["p0", "p1"]
    failing_host = next(h for h in api.get(f"{BASE}/hosts").json()["hosts"] if h["hostname"] == "p1")
    assert failing_host["issues"]["failing_policies_count"] == 1
    old = Software.objects.create(name="curl", version="7", source="deb_packages", checksum="a")
    new = Software.objects.create(name="curl", version="8", source="deb_packages", checksum="b")
    HostSoftware.objects.create(host=passing, software=old)
    HostSoftware.objects.create(host=silent, software=new)
    assert names({"software_version_id": new.pk}) == ["p2"]
    assert names({"software_title_id": new.pk}) == ["p0", "p2"]
    assert api.get(f"{BASE}/hosts", {"policy_response": "maybe"}).status_code == 400


def test_software_titles_and_versions(api: APIClient, api_client_as: Callable, outsider: User, team: Team) -> None:
    mine, theirs = _hosts(None, 1, "a")[0], _hosts(team, 1, "b")[0]
    curl = Software.objects.create(name="curl", version="8", source="deb_packages", checksum="a")
    HostSoftware.objects.create(host=mine, software=curl)
    HostSoftware.objects.create(host=theirs, software=curl)
    titles = api.get(f"{BASE}/software/titles").json()
    assert titles["count"] == 1 and titles["software_titles"][0]["hosts_count"] == 2
    assert titles["software_titles"][0]["versions"][0]["version"] == "8"
    versions = api.get(f"{BASE}/software/versions", {"team_id": team.pk}).json()["software"]
    assert [(v["name"], v["hosts_count"]) for v in versions] == [("curl", 1)]
    assert api.get(f"{BASE}/software/titles/{curl.pk}").json()["software_title"]["hosts_count"] == 2
    assert api_client_as(outsider).get(f"{BASE}/software/titles").json()["count"] == 0
    assert api.get(f"{BASE}/software/titles", {"order_key": "bogus"}).status_code == 400


def test_hosts_csv_export_follows_filters(api: APIClient) -> None:
    _hosts(None, 2, "web-")
    _hosts(None, 1, "db-")
    response = api.get(f"{BASE}/hosts/report", {"query": "web-", "format": "csv"})
    lines = b"".join(response.streaming_content).decode().strip().splitlines()
    assert lines[0].startswith("id,hostname") and len(lines) == 3


@pytest.mark.parametrize("count", [5, 60])
def test_hosts_list_costs_the_same_queries_whatever_the_size(
    api: APIClient, team: Team, count: int, django_assert_max_num_queries: Callable
) -> None:
    for i in range(count):
        Host.objects.create(osquery_host_id=f"q{i}", hostname=f"q{i}", team=team if i % 2 else None)
    with django_assert_max_num_queries(4):
        assert len(api.get(f"{BASE}/hosts", {"per_page": 50, "order_key": "team_name"}).json()["hosts"]) == min(
            count, 50
        )
