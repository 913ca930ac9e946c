"""Hosts and labels REST API (fleet-protocol §4.2, §4.6, §5)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from django.utils import timezone

from accounts.models import Team, User
from conftest import AgentClient, APIClient
from enrollment.tests.fixtures import EnrolledHost, payload
from hosts.models import Host, HostSoftware, HostUser, Label, Software

pytestmark = pytest.mark.django_db

HOSTS = "/api/latest/fleet/hosts"
COUNT = "/api/latest/fleet/hosts/count"
LABELS = "/api/latest/fleet/labels"

HOST_KEYS = {
    "id", "created_at", "updated_at", "detail_updated_at", "label_updated_at", "policy_updated_at",
    "last_enrolled_at", "last_restarted_at", "seen_time", "refetch_requested", "refetch_critical_queries_until",
    "hostname", "display_name", "display_text", "computer_name", "uuid", "platform", "platform_like",
    "osquery_version", "orbit_version", "fleet_desktop_version", "scripts_enabled", "os_version", "build",
    "code_name", "uptime", "memory", "cpu_type", "cpu_subtype", "cpu_brand", "cpu_physical_cores",
    "cpu_logical_cores", "hardware_vendor", "hardware_model", "hardware_version", "hardware_serial", "primary_ip",
    "primary_mac", "public_ip", "distributed_interval", "config_tls_refresh", "logger_tls_period", "team_id",
    "team_name", "pack_stats", "gigs_disk_space_available", "percent_disk_space_available",
    "gigs_total_disk_space", "gigs_all_disk_space", "issues", "mdm", "status", "timezone",
}  # fmt: skip
BUILTIN_LABELS = {
    "All Hosts", "macOS", "MS Windows", "All Linux", "Ubuntu Linux", "CentOS Linux", "Red Hat Linux", "chrome",
}  # fmt: skip


def body_of(response: Any) -> Any:
    return orjson.loads(response.content)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def make_host(name: str, team: Team | None = None, **fields: Any) -> Host:
    return Host.objects.create(osquery_host_id=name, hostname=name, team=team, **fields)


def hostnames(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [host["hostname"] for host in body_of(response)["hosts"]]


def assert_bad_request(response: Any, name: str | None = None) -> None:
    assert response.status_code == 400, response.content
    body = body_of(response)
    assert body["message"] == "Bad request"
    assert body["errors"] and body["errors"][0]["reason"]
    if name is not None:
        assert body["errors"][0]["name"] == name


def write_details(agent: AgentClient, enrolled: EnrolledHost, environ: dict | None = None, **headers: str) -> None:
    body = payload("distributed_write_ubuntu", node_key=enrolled.node_key)
    agent.json("/api/osquery/distributed/write", body, environ=environ, **headers)


@pytest.fixture
def scoped_hosts(team: Team, other_team: Team) -> dict[str, Host]:
    """Two team A hosts, one team B host and one host with no team."""
    return {
        "a1": make_host("a1", team),
        "a2": make_host("a2", team),
        "b1": make_host("b1", other_team),
        "none": make_host("none"),
    }


@pytest.fixture
def as_user(api_client_as: Callable[[User | None], APIClient]) -> Callable[[User | None], APIClient]:
    return api_client_as


# --- Listing and paging -------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["latest", "v1", "2022-04"])
def test_admin_lists_every_host(api: APIClient, scoped_hosts: dict[str, Host], version: str) -> None:
    response = api.get(f"/api/{version}/fleet/hosts")
    assert sorted(hostnames(response)) == ["a1", "a2", "b1", "none"]
    assert body_of(response)["meta"] == {"has_next_results": False, "has_previous_results": False}


def test_paging_is_zero_based_with_next_results_flag(api: APIClient) -> None:
    for n in range(5):
        make_host(f"h{n}")
    pages = [api.get(HOSTS, {"page": page, "per_page": 2, "order_key": "hostname"}) for page in range(3)]
    assert [hostnames(page) for page in pages] == [["h0", "h1"], ["h2", "h3"], ["h4"]]
    assert [body_of(page)["meta"]["has_next_results"] for page in pages] == [True, True, False]
    assert [body_of(page)["meta"]["has_previous_results"] for page in pages] == [False, True, True]


def test_a_list_without_per_page_streams_every_host_in_chunks(
    api: APIClient, admin: User, monkeypatch: pytest.MonkeyPatch, django_assert_max_num_queries: Any
) -> None:
    """Fleet answers every host when per_page is absent (fleetctl get hosts relies on it)."""
    from hosts.api import views

    Host.objects.bulk_create(Host(osquery_host_id=f"s{n:03}", hostname=f"s{n:03}") for n in range(250))
    monkeypatch.setattr(views, "STREAM_CHUNK", 100)
    with django_assert_max_num_queries(6):  # token, ids, three chunks of rows (+ a session touch)
        response = api.get(HOSTS, {"order_key": "hostname"})
    assert getattr(response, "was_streamed", False)
    assert hostnames(response) == [f"s{n:03}" for n in range(250)]
    assert body_of(response)["meta"] == {"has_next_results": False, "has_previous_results": False}
    assert len(hostnames(api.get(HOSTS, {"status": "online"}))) == 0
    # Fleet: a page without per_page is a page of 20, not the whole list.
    paged = api.get(HOSTS, {"page": 2, "order_key": "hostname"})
    assert not getattr(paged, "was_streamed", False)
    assert hostnames(paged) == [f"s{n:03}" for n in range(40, 60)]
    assert body_of(paged)["meta"] == {"has_next_results": True, "has_previous_results": True}
    assert len(hostnames(api.get(HOSTS, {"page": 0}))) == 20


def test_after_pages_by_the_order_key_without_offset(api: APIClient, django_assert_max_num_queries: Any) -> None:
    """Fleet's keyset paging: `after` is the last value seen; it supersedes `page`."""
    for name, memory in (("a", 1), ("b", 2), ("c", 2), ("d", 3), ("e", 4)):
        make_host(name, memory=memory)
    first = api.get(HOSTS, {"per_page": 2, "order_key": "hostname"})
    assert hostnames(first) == ["a", "b"]
    assert hostnames(api.get(HOSTS, {"per_page": 2, "order_key": "hostname", "after": "b", "page": 7})) == ["c", "d"]
    assert hostnames(
        api.get(HOSTS, {"per_page": 9, "order_key": "hostname", "order_direction": "desc", "after": "c"})
    ) == [
        "b",
        "a",
    ]
    ids = list(Host.objects.order_by("id").values_list("id", flat=True))
    assert hostnames(api.get(HOSTS, {"per_page": 9, "after": str(ids[2])})) == ["d", "e"]
    # Ties: like Fleet, a plain value skips rows equal to it; with after_id they are kept in id order.
    assert hostnames(api.get(HOSTS, {"per_page": 9, "order_key": "memory", "after": "2"})) == ["d", "e"]
    b = Host.objects.get(hostname="b")
    assert hostnames(api.get(HOSTS, {"per_page": 9, "order_key": "memory", "after": "2", "after_id": b.pk})) == [
        "c",
        "d",
        "e",
    ]
    with django_assert_max_num_queries(4):
        api.get(HOSTS, {"per_page": 2, "order_key": "seen_time", "after": "2026-01-01T00:00:00Z"})


@pytest.mark.parametrize(
    "params",
    [
        {"order_key": "memory", "after": "lots"},
        {"order_key": "seen_time", "after": "yesterday"},
        {"after": "x"},
        {"after": "1", "after_id": "-1"},
    ],
)
def test_after_that_is_no_value_of_the_order_key_is_a_bad_request(api: APIClient, params: dict) -> None:
    make_host("a")
    assert_bad_request(api.get(HOSTS, {"per_page": 5, **params}))


def test_the_same_filters_with_other_values_are_validated_each_time(api: APIClient) -> None:
    """The form of a set of filters is built once (HostFilterSet.get_form_class); each request's values are its own."""
    make_host("a", memory=1)
    make_host("b", memory=3)
    for _ in range(2):
        assert hostnames(api.get(HOSTS, {"per_page": 5, "order_key": "memory", "after": "2"})) == ["b"]
        assert_bad_request(api.get(HOSTS, {"per_page": 5, "order_key": "memory", "after": "lots"}))
        assert hostnames(api.get(HOSTS, {"per_page": 5, "order_key": "memory", "status": "online"})) == []
        assert_bad_request(api.get(HOSTS, {"per_page": 5, "order_key": "memory", "status": "sleepy"}))


def test_exactly_full_last_page_has_no_next_results(api: APIClient) -> None:
    for n in range(4):
        make_host(f"h{n}")
    assert body_of(api.get(HOSTS, {"page": 1, "per_page": 2}))["meta"]["has_next_results"] is False


def test_page_past_the_end_is_empty(api: APIClient) -> None:
    make_host("only")
    assert hostnames(api.get(HOSTS, {"page": 5, "per_page": 10})) == []


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"page": "-1"}, "page"),
        ({"page": "first"}, "page"),
        ({"per_page": "0"}, "per_page"),
        ({"per_page": "-5"}, "per_page"),
        ({"per_page": "lots"}, "per_page"),
        ({"per_page": "1000000"}, "per_page"),
    ],
)
def test_invalid_paging_is_a_bad_request(api: APIClient, params: dict[str, str], name: str) -> None:
    response = api.get(HOSTS, params)
    assert_bad_request(response)
    assert name in body_of(response)["errors"][0]["reason"]


# --- Filters ------------------------------------------------------------------------------------


@pytest.fixture
def status_hosts(db: None) -> dict[str, Host]:
    now = timezone.now()
    long_ago = now - timedelta(days=90)
    return {
        "online": make_host(
            "online",
            created_at=long_ago,
            seen_time=now - timedelta(seconds=10),
            online_until=now + timedelta(minutes=5),
        ),
        "offline": make_host(
            "offline", created_at=long_ago, seen_time=now - timedelta(hours=2), online_until=now - timedelta(hours=1)
        ),
        "new": make_host(
            "new",
            created_at=now - timedelta(hours=3),
            seen_time=now - timedelta(hours=2),
            online_until=now - timedelta(hours=1),
        ),
        "missing": make_host(
            "missing",
            created_at=long_ago,
            seen_time=now - timedelta(days=31),
            online_until=now - timedelta(days=31) + timedelta(seconds=70),
        ),
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("online", ["online"]),
        ("offline", ["missing", "new", "offline"]),
        ("new", ["new"]),
        ("missing", ["missing"]),
        ("mia", ["missing"]),
    ],
)
def test_status_filter(api: APIClient, status_hosts: dict[str, Host], status: str, expected: list[str]) -> None:
    assert sorted(hostnames(api.get(HOSTS, {"status": status}))) == expected
    assert body_of(api.get(COUNT, {"status": status}))["count"] == len(expected)


def test_host_json_status_is_online_or_offline_only(api: APIClient, status_hosts: dict[str, Host]) -> None:
    statuses = {host["hostname"]: host["status"] for host in body_of(api.get(HOSTS))["hosts"]}
    assert statuses == {"online": "online", "offline": "offline", "new": "offline", "missing": "offline"}


def test_invalid_status_is_a_bad_request(api: APIClient, status_hosts: dict[str, Host]) -> None:
    assert_bad_request(api.get(HOSTS, {"status": "sleeping"}), "status")
    assert_bad_request(api.get(COUNT, {"status": "sleeping"}), "status")


def test_team_filter(api: APIClient, scoped_hosts: dict[str, Host], team: Team, other_team: Team) -> None:
    assert sorted(hostnames(api.get(HOSTS, {"team_id": team.pk}))) == ["a1", "a2"]
    assert hostnames(api.get(HOSTS, {"team_id": other_team.pk})) == ["b1"]
    assert hostnames(api.get(HOSTS, {"fleet_id": other_team.pk})) == ["b1"]


def test_team_id_zero_means_hosts_without_a_team(api: APIClient, scoped_hosts: dict[str, Host]) -> None:
    assert hostnames(api.get(HOSTS, {"team_id": 0})) == ["none"]
    assert body_of(api.get(COUNT, {"team_id": 0}))["count"] == 1


def test_invalid_team_id_is_a_bad_request(api: APIClient) -> None:
    assert_bad_request(api.get(HOSTS, {"team_id": "A"}), "team_id")


@pytest.fixture
def searchable_hosts(db: None) -> None:
    make_host("web-01.example.com", uuid="4C4C4544-AAAA", hardware_serial="7XK2Q53", primary_ip="10.0.3.17")
    make_host("db-01.example.com", uuid="5D7E2C10-BBBB", hardware_serial="C02XL0GHJGH5", primary_ip="10.0.4.20")
    make_host("laptop", computer_name="Alice's MacBook", uuid="A1B2-CCCC", public_ip="203.0.113.5")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("web-01", ["web-01.example.com"]),
        ("EXAMPLE.COM", ["db-01.example.com", "web-01.example.com"]),
        ("5d7e2c10", ["db-01.example.com"]),
        ("7XK2Q53", ["web-01.example.com"]),
        ("10.0.4.20", ["db-01.example.com"]),
        ("203.0.113", ["laptop"]),
        ("macbook", ["laptop"]),
        ("nothing-like-this", []),
        ("  ", ["db-01.example.com", "laptop", "web-01.example.com"]),
    ],
)
def test_query_searches_names_uuid_serial_and_ip(
    api: APIClient, searchable_hosts: None, text: str, expected: list[str]
) -> None:
    assert sorted(hostnames(api.get(HOSTS, {"query": text}))) == expected
    assert body_of(api.get(COUNT, {"query": text}))["count"] == len(expected)


def test_order_by_key_and_direction(api: APIClient) -> None:
    for name, memory in (("bravo", 2), ("alpha", 3), ("charlie", 1)):
        make_host(name, memory=memory)
    assert hostnames(api.get(HOSTS, {"order_key": "hostname"})) == ["alpha", "bravo", "charlie"]
    assert hostnames(api.get(HOSTS, {"order_key": "hostname", "order_direction": "desc"})) == [
        "charlie",
        "bravo",
        "alpha",
    ]
    assert hostnames(api.get(HOSTS, {"order_key": "memory", "order_direction": "asc"})) == ["charlie", "bravo", "alpha"]


def test_order_by_display_name_uses_the_computer_name_when_reported(api: APIClient) -> None:
    make_host("alpha", computer_name="zulu-laptop")
    make_host("bravo")
    make_host("charlie", computer_name="mike-desktop")
    assert hostnames(api.get(HOSTS, {"order_key": "display_name"})) == ["bravo", "charlie", "alpha"]
    assert hostnames(api.get(HOSTS, {"order_key": "display_name", "order_direction": "desc"})) == [
        "alpha",
        "charlie",
        "bravo",
    ]


def test_default_order_is_stable_by_id(api: APIClient) -> None:
    created = [make_host(name).hostname for name in ("zulu", "alpha", "mike")]
    assert hostnames(api.get(HOSTS)) == created


@pytest.mark.parametrize("params", [{"order_key": "password"}, {"order_key": "hostname", "order_direction": "up"}])
def test_invalid_order_is_a_bad_request(api: APIClient, params: dict[str, str]) -> None:
    assert_bad_request(api.get(HOSTS, params))


def test_count_filters_by_label(api: APIClient, scoped_hosts: dict[str, Host]) -> None:
    label = Label.objects.create(name="Pilot", query="", label_membership_type="manual")
    label.hosts.set([scoped_hosts["a1"], scoped_hosts["b1"]])
    assert body_of(api.get(COUNT, {"label_id": label.pk}))["count"] == 2
    assert body_of(api.get(COUNT, {"label_id": label.pk, "query": "a1"}))["count"] == 1
    assert body_of(api.get(COUNT))["count"] == 4


def test_count_combines_team_and_status(api: APIClient, team: Team) -> None:
    now = timezone.now()
    make_host("on", team, online_until=now + timedelta(minutes=1))
    make_host("off", team, online_until=now - timedelta(minutes=1))
    make_host("elsewhere", None, online_until=now + timedelta(minutes=1))
    assert body_of(api.get(COUNT, {"team_id": team.pk, "status": "online"})) == {"count": 1}


# --- Host JSON ----------------------------------------------------------------------------------


@pytest.fixture
def reported_host(ubuntu_host: EnrolledHost, agent: AgentClient, settings: Any) -> EnrolledHost:
    """The Ubuntu host after it answered its detail queries from a public address, via a proxy."""
    settings.FLEETSITE_TRUSTED_PROXIES = ["127.0.0.1"]
    write_details(agent, ubuntu_host, **{"X-Forwarded-For": "203.0.113.5"})
    return ubuntu_host


def test_public_ip_ignores_forwarded_for_from_an_unlisted_peer(ubuntu_host: EnrolledHost, agent: AgentClient) -> None:
    """Without FLEETSITE_TRUSTED_PROXIES an agent cannot pick its public_ip; the peer counts."""
    write_details(agent, ubuntu_host, **{"X-Forwarded-For": "203.0.113.5"})
    assert Host.objects.get(pk=ubuntu_host.host.pk).public_ip == ""  # the peer, 127.0.0.1, is private
    write_details(agent, ubuntu_host, environ={"REMOTE_ADDR": "198.51.100.20"}, **{"X-Forwarded-For": "203.0.113.5"})
    assert Host.objects.get(pk=ubuntu_host.host.pk).public_ip == "198.51.100.20"


def test_host_json_has_fleets_keys_and_units(api: APIClient, reported_host: EnrolledHost) -> None:
    hosts = body_of(api.get(HOSTS))["hosts"]
    assert len(hosts) == 1
    host = hosts[0]
    assert host.keys() >= HOST_KEYS
    assert host["id"] == reported_host.host.pk
    assert host["hostname"] == "web-01.example.com"
    assert host["display_name"] == "web-01"
    assert host["uuid"] == "4C4C4544-0052-3410-8058-B7C04F4A4E32"
    assert host["platform"] == "ubuntu"
    assert host["os_version"] == "Ubuntu 22.04.3 LTS"
    assert host["memory"] == 17179869184
    assert host["uptime"] == 273906 * 1_000_000_000
    assert host["primary_ip"] == "10.0.3.17"
    assert host["public_ip"] == "203.0.113.5"
    assert host["status"] == "online"
    assert (host["team_id"], host["team_name"]) == (None, None)
    assert host["issues"] == {"failing_policies_count": 0, "critical_vulnerabilities_count": 0, "total_issues_count": 0}
    assert host["mdm"]["enrollment_status"] is None
    assert host["refetch_requested"] is False


def test_host_times_are_rfc3339(api: APIClient, reported_host: EnrolledHost) -> None:
    host = body_of(api.get(HOSTS))["hosts"][0]
    for key in ("seen_time", "created_at", "updated_at", "detail_updated_at", "last_enrolled_at", "last_restarted_at"):
        assert host[key].endswith("Z"), key
        assert abs(parse_time(host[key]) - timezone.now()) < timedelta(days=4), key
    assert parse_time(host["detail_updated_at"]) > timezone.now() - timedelta(minutes=1)


def test_host_json_names_its_team(api: APIClient, team: Team) -> None:
    make_host("a1", team)
    host = body_of(api.get(HOSTS))["hosts"][0]
    assert (host["team_id"], host["team_name"]) == (team.pk, "Team A")
    assert (host["fleet_id"], host["fleet_name"]) == (team.pk, "Team A")


def test_host_detail_has_labels_users_and_software(api: APIClient, reported_host: EnrolledHost) -> None:
    response = api.get(f"{HOSTS}/{reported_host.host.pk}")
    assert response.status_code == 200
    host = body_of(response)["host"]
    assert host.keys() >= HOST_KEYS | {"labels", "users", "software", "packs", "policies"}
    assert "All Hosts" in {label["name"] for label in host["labels"]}
    assert [(user["uid"], user["username"], user["shell"]) for user in host["users"]] == [
        (0, "root", "/bin/bash"),
        (1000, "alice", "/bin/zsh"),
    ]
    software = {(item["name"], item["version"], item["source"]) for item in host["software"]}
    assert software == {
        ("openssl", "3.0.2-0ubuntu1.12", "deb_packages"),
        ("curl", "7.81.0-1ubuntu1.15", "deb_packages"),
        ("requests", "2.31.0", "python_packages"),
    }
    requests = next(item for item in host["software"] if item["name"] == "requests")
    assert requests["installed_paths"] == ["/usr/lib/python3/dist-packages"]


def test_host_detail_shows_side_tables_created_directly(api: APIClient) -> None:
    host = make_host("direct")
    HostUser.objects.create(host=host, uid=501, username="bob", type="person", groupname="staff", shell="/bin/zsh")
    vim = Software.objects.create(name="vim", version="9.0", source="deb_packages", checksum="x" * 64)
    HostSoftware.objects.create(host=host, software=vim)
    body = body_of(api.get(f"{HOSTS}/{host.pk}"))["host"]
    assert body["users"] == [
        {"uid": 501, "username": "bob", "type": "person", "groupname": "staff", "shell": "/bin/zsh"}
    ]
    assert [(item["id"], item["name"]) for item in body["software"]] == [(vim.pk, "vim")]


def test_host_detail_can_exclude_software(api: APIClient, reported_host: EnrolledHost) -> None:
    host = body_of(api.get(f"{HOSTS}/{reported_host.host.pk}", {"exclude_software": "true"}))["host"]
    assert "software" not in host
    assert host["users"]


def test_unknown_host_is_not_found(api: APIClient) -> None:
    response = api.get(f"{HOSTS}/987654")
    assert response.status_code == 404
    body = body_of(response)
    assert body["message"] == "Resource Not Found"
    assert body["errors"][0]["name"] == "base"


def test_refetch_sets_the_flag_until_the_next_write(
    api: APIClient, reported_host: EnrolledHost, agent: AgentClient
) -> None:
    path = f"{HOSTS}/{reported_host.host.pk}"
    assert body_of(api.get(path))["host"]["refetch_requested"] is False
    response = api.post(f"{path}/refetch")
    assert response.status_code == 200
    assert body_of(response) == {}
    assert body_of(api.get(path))["host"]["refetch_requested"] is True
    write_details(agent, reported_host)
    assert body_of(api.get(path))["host"]["refetch_requested"] is False


def test_refetch_of_an_unknown_host_is_not_found(api: APIClient) -> None:
    assert api.post(f"{HOSTS}/987654/refetch").status_code == 404


def test_deleted_host_is_gone_and_its_node_key_stops_working(
    api: APIClient, reported_host: EnrolledHost, agent: AgentClient
) -> None:
    host_id = reported_host.host.pk
    agent.json("/api/osquery/config", reported_host.body())
    response = api.delete(f"{HOSTS}/{host_id}")
    assert response.status_code == 200
    assert body_of(response) == {}
    assert not Host.objects.filter(pk=host_id).exists()
    assert not HostUser.objects.filter(host_id=host_id).exists()
    assert api.get(f"{HOSTS}/{host_id}").status_code == 404
    assert api.delete(f"{HOSTS}/{host_id}").status_code == 404
    rejected = agent.json("/api/osquery/config", reported_host.body(), expect=401)
    assert rejected["node_invalid"] is True
    assert "error" in rejected


def test_deleted_host_reenrolls_as_a_new_host(api: APIClient, ubuntu_host: EnrolledHost, enroll_host: Any) -> None:
    api.delete(f"{HOSTS}/{ubuntu_host.host.pk}")
    again = enroll_host()
    assert again.host.pk != ubuntu_host.host.pk
    assert hostnames(api.get(HOSTS)) == ["web-01.example.com"]


# --- Team scoping -------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["maintainer", "observer"])
def test_team_members_see_only_their_teams_hosts(
    request: pytest.FixtureRequest, as_user: Any, scoped_hosts: dict[str, Host], persona: str
) -> None:
    client = as_user(request.getfixturevalue(persona))
    assert sorted(hostnames(client.get(HOSTS))) == ["a1", "a2"]
    assert body_of(client.get(COUNT))["count"] == 2
    assert client.get(f"{HOSTS}/{scoped_hosts['a1'].pk}").status_code == 200
    for other in ("b1", "none"):
        response = client.get(f"{HOSTS}/{scoped_hosts[other].pk}")
        assert response.status_code == 404, other
        assert body_of(response)["message"] == "Resource Not Found"


def test_team_filter_cannot_widen_a_members_view(
    as_user: Any, maintainer: User, scoped_hosts: dict[str, Host], other_team: Team
) -> None:
    client = as_user(maintainer)
    assert hostnames(client.get(HOSTS, {"team_id": other_team.pk})) == []
    assert hostnames(client.get(HOSTS, {"team_id": 0})) == []
    assert body_of(client.get(COUNT, {"team_id": other_team.pk}))["count"] == 0


def test_outsider_sees_none_of_team_a(as_user: Any, outsider: User, scoped_hosts: dict[str, Host]) -> None:
    client = as_user(outsider)
    assert hostnames(client.get(HOSTS)) == ["b1"]
    assert body_of(client.get(COUNT))["count"] == 1
    assert client.get(f"{HOSTS}/{scoped_hosts['a1'].pk}").status_code == 404
    assert client.post(f"{HOSTS}/{scoped_hosts['a1'].pk}/refetch").status_code == 404
    assert client.delete(f"{HOSTS}/{scoped_hosts['a1'].pk}").status_code == 404
    assert Host.objects.filter(pk=scoped_hosts["a1"].pk).exists()


def test_observer_cannot_delete_host(as_user: Any, observer: User, scoped_hosts: dict[str, Host]) -> None:
    response = as_user(observer).delete(f"{HOSTS}/{scoped_hosts['a1'].pk}")
    assert response.status_code == 403
    assert body_of(response)["message"] == "Permission Denied"
    assert Host.objects.filter(pk=scoped_hosts["a1"].pk).exists()


def test_maintainer_deletes_a_host_of_its_team(as_user: Any, maintainer: User, scoped_hosts: dict[str, Host]) -> None:
    assert as_user(maintainer).delete(f"{HOSTS}/{scoped_hosts['a1'].pk}").status_code == 200
    assert not Host.objects.filter(pk=scoped_hosts["a1"].pk).exists()


def test_global_observer_sees_all_but_cannot_delete(as_user: Any, scoped_hosts: dict[str, Host]) -> None:
    client = as_user(User.objects.create_user("gobs@example.com", "pw-123456789", global_role="observer"))
    assert sorted(hostnames(client.get(HOSTS))) == ["a1", "a2", "b1", "none"]
    assert client.delete(f"{HOSTS}/{scoped_hosts['none'].pk}").status_code == 403
    assert Host.objects.count() == 4


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", HOSTS),
        ("get", COUNT),
        ("get", f"{HOSTS}/1"),
        ("post", f"{HOSTS}/1/refetch"),
        ("delete", f"{HOSTS}/1"),
        ("get", LABELS),
        ("post", LABELS),
        ("get", f"{LABELS}/1/hosts"),
    ],
)
def test_anonymous_requests_need_authentication(as_user: Any, method: str, path: str) -> None:
    make_host("h1")
    response = getattr(as_user(None), method)(path)
    assert response.status_code == 401
    assert body_of(response)["message"] == "Authentication required"
    assert Host.objects.count() == 1


# --- Query cost ---------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["admin", "maintainer"])
def test_host_list_query_count_does_not_grow_with_hosts(
    request: pytest.FixtureRequest, as_user: Any, team: Team, django_assert_max_num_queries: Any, persona: str
) -> None:
    client = as_user(request.getfixturevalue(persona))
    counts = []
    for total in (5, 50):
        for n in range(total - Host.objects.count()):
            make_host(f"h{total}-{n}", team)
        with django_assert_max_num_queries(4) as captured:
            response = client.get(HOSTS, {"per_page": 100})
        assert len(body_of(response)["hosts"]) == total
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]


# --- Labels -------------------------------------------------------------------------------------


def test_builtin_labels_are_listed(api: APIClient) -> None:
    response = api.get(LABELS)
    assert response.status_code == 200
    labels = body_of(response)["labels"]
    assert {label["name"] for label in labels} == BUILTIN_LABELS
    assert {label["label_type"] for label in labels} == {"builtin"}
    assert {"id", "name", "description", "query", "platform", "label_membership_type", "created_at"} <= labels[0].keys()


def test_label_host_counts_on_request(api: APIClient, ubuntu_host: EnrolledHost) -> None:
    plain = body_of(api.get(LABELS))["labels"]
    assert all("host_count" not in label for label in plain)
    counted = {
        label["name"]: label["host_count"]
        for label in body_of(api.get(LABELS, {"include_host_counts": "true"}))["labels"]
    }
    assert counted["All Hosts"] == 1
    assert counted["MS Windows"] == 0


def test_label_host_counts_are_team_scoped(as_user: Any, maintainer: User, scoped_hosts: dict[str, Host]) -> None:
    all_hosts = Label.objects.get(name="All Hosts")
    all_hosts.hosts.set(scoped_hosts.values())
    labels = body_of(as_user(maintainer).get(LABELS, {"include_host_counts": "true"}))["labels"]
    assert next(label for label in labels if label["name"] == "All Hosts")["host_count"] == 2


def test_admin_creates_a_dynamic_label(api: APIClient, admin: User) -> None:
    sql = "SELECT 1 FROM deb_packages WHERE name = 'curl';"
    response = api.post(LABELS, {"name": "Has curl", "query": sql, "platform": "ubuntu", "description": "d"})
    assert response.status_code == 200
    label = body_of(response)["label"]
    assert (label["name"], label["query"], label["platform"]) == ("Has curl", sql, "ubuntu")
    assert (label["label_type"], label["label_membership_type"]) == ("regular", "dynamic")
    assert label["author_id"] == admin.pk
    assert "Has curl" in {item["name"] for item in body_of(api.get(LABELS))["labels"]}


@pytest.mark.parametrize("body", [{"name": "No query"}, {"name": "Blank query", "query": "   "}])
def test_dynamic_label_needs_a_query(api: APIClient, body: dict[str, str]) -> None:
    response = api.post(LABELS, body)
    assert response.status_code == 422
    assert body_of(response)["message"] == "Validation Failed"
    assert [error["name"] for error in body_of(response)["errors"]] == ["query"]
    assert not Label.objects.filter(name=body["name"]).exists()


def test_label_needs_a_name(api: APIClient) -> None:
    response = api.post(LABELS, {"query": "SELECT 1;"})
    assert response.status_code == 422
    assert "name" in {error["name"] for error in body_of(response)["errors"]}


@pytest.mark.parametrize("name", ["All Hosts", "Mine"])
def test_duplicate_label_name_is_a_conflict(api: APIClient, name: str) -> None:
    Label.objects.get_or_create(name="Mine", defaults={"query": "SELECT 1;"})
    before = Label.objects.count()
    response = api.post(LABELS, {"name": name, "query": "SELECT 2;"})
    assert response.status_code == 409
    assert body_of(response)["errors"][0]["name"] == "base"
    assert Label.objects.count() == before


def test_manual_label_with_host_ids_lists_its_members(api: APIClient, scoped_hosts: dict[str, Host]) -> None:
    ids = [scoped_hosts["a1"].pk, scoped_hosts["none"].pk]
    response = api.post(LABELS, {"name": "Pilot", "host_ids": ids})
    assert response.status_code == 200
    label = body_of(response)["label"]
    assert label["label_membership_type"] == "manual"
    members = api.get(f"{LABELS}/{label['id']}/hosts")
    assert sorted(hostnames(members)) == ["a1", "none"]
    assert "meta" in body_of(members)


def test_manual_label_cannot_have_a_query(api: APIClient, scoped_hosts: dict[str, Host]) -> None:
    response = api.post(LABELS, {"name": "Both", "query": "SELECT 1;", "host_ids": [scoped_hosts["a1"].pk]})
    assert response.status_code == 422
    assert not Label.objects.filter(name="Both").exists()


def test_label_hosts_are_team_scoped_and_filterable(
    api: APIClient, as_user: Any, maintainer: User, scoped_hosts: dict[str, Host]
) -> None:
    label = Label.objects.create(name="Pilot", label_membership_type="manual")
    label.hosts.set([scoped_hosts["a1"], scoped_hosts["a2"], scoped_hosts["b1"]])
    path = f"{LABELS}/{label.pk}/hosts"
    assert sorted(hostnames(as_user(maintainer).get(path))) == ["a1", "a2"]
    assert hostnames(api.get(path, {"query": "b1"})) == ["b1"]
    assert_bad_request(api.get(path, {"status": "sleeping"}))


@pytest.mark.parametrize("persona", ["observer", "maintainer", "outsider"])
def test_team_users_cannot_create_global_labels(request: pytest.FixtureRequest, as_user: Any, persona: str) -> None:
    response = as_user(request.getfixturevalue(persona)).post(LABELS, {"name": "Mine", "query": "SELECT 1;"})
    assert response.status_code == 403
    assert body_of(response)["message"] == "Permission Denied"
    assert not Label.objects.filter(name="Mine").exists()


def test_hosts_of_an_unknown_label_is_not_found(api: APIClient) -> None:
    response = api.get(f"{LABELS}/987654/hosts")
    assert response.status_code == 404
    assert body_of(response)["message"] == "Resource Not Found"


def test_list_and_detail_agree_on_every_key_they_share(api: APIClient, reported_host: EnrolledHost, team: Team) -> None:
    """The list is built from database rows and the detail from a model instance: same JSON."""
    from queries.models import Policy, PolicyMembership

    host = reported_host.host
    Host.objects.filter(pk=host.pk).update(team=team, last_restarted_at=None)
    policy = Policy.objects.create(name="disk encrypted", query="SELECT 1;")
    PolicyMembership.objects.create(policy=policy, host=host, passes=False)
    listed = body_of(api.get(HOSTS))["hosts"][0]
    detail = body_of(api.get(f"{HOSTS}/{host.pk}"))["host"]
    # Exactly these: nothing of the database row it was made from (the text timestamps, counts).
    assert listed.keys() == HOST_KEYS | {"fleet_id", "fleet_name", "disk_encryption_enabled"}
    assert {key: detail[key] for key in listed} == listed
    assert listed["issues"]["failing_policies_count"] == 1
    assert listed["last_restarted_at"] is None and listed["team_name"] == "Team A"


def test_another_teams_labels_are_invisible(as_user: Any, maintainer: User, other_team: Team, team: Team) -> None:
    theirs = Label.objects.create(name="Team B label", query="SELECT 1;", team=other_team)
    ours = Label.objects.create(name="Team A label", query="SELECT 1;", team=team)
    client = as_user(maintainer)
    for params in ({}, {"include_host_counts": "true"}):
        names = {label["name"] for label in body_of(client.get(LABELS, params))["labels"]}
        assert ours.name in names and theirs.name not in names and "All Hosts" in names
    assert client.get(f"{LABELS}/{theirs.pk}/hosts").status_code == 404
    assert client.get(f"{LABELS}/{ours.pk}/hosts").status_code == 200
