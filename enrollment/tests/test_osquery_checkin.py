"""osquery check-ins: config, distributed read/write and logs (fleet-protocol §1.2-§1.5)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Team
from enrollment.tests.fixtures import READ, detail_write, payload
from fleetsite.constants import DEFAULT_AGENT_OPTIONS
from fleetsite.models import FleetConfig
from hosts import seen
from hosts.models import Host, HostSoftware, HostUser, Label, LabelMembership, Software

CONFIG = "/api/osquery/config"
WRITE = "/api/osquery/distributed/write"
LOG = "/api/osquery/log"


# --- config ---------------------------------------------------------------------------------


def test_config_is_the_default_agent_options_config_at_top_level(agent, ubuntu_host):
    config = agent.json(CONFIG, ubuntu_host.body())
    assert config == DEFAULT_AGENT_OPTIONS["config"]


def test_config_uses_the_team_options_and_platform_overrides(agent, enroll_host, team, team_secret):
    team.agent_options = {
        "config": {"options": {"distributed_interval": 30}},
        "overrides": {"platforms": {"darwin": {"options": {"distributed_interval": 5}}}},
    }
    team.save()
    linux = enroll_host(secret=team_secret)
    mac = enroll_host("enroll_macos", secret=team_secret)
    assert agent.json(CONFIG, linux.body()) == {"options": {"distributed_interval": 30}}
    assert agent.json(CONFIG, mac.body()) == {"options": {"distributed_interval": 5}}


def test_config_remembers_the_served_intervals_for_the_online_rule(agent, ubuntu_host):
    agent.json(CONFIG, ubuntu_host.body())
    host = ubuntu_host.refresh()
    assert host.distributed_interval == 10
    assert host.logger_tls_period == 10


@pytest.mark.parametrize("key", [None, "", "wrong-key", 12])
def test_config_with_a_bad_node_key_is_401_node_invalid(agent, ubuntu_host, key):
    body = {} if key is None else {"node_key": key}
    response = agent.json(CONFIG, body, expect=401)
    assert response["node_invalid"] is True
    assert response["error"].startswith("authentication error")


def test_global_agent_options_change_reaches_the_next_config(agent, ubuntu_host):
    config = FleetConfig.load()
    config.agent_options = {"config": {"options": {"distributed_interval": 42}}}
    config.save()
    assert agent.json(CONFIG, ubuntu_host.body()) == {"options": {"distributed_interval": 42}}


# --- distributed/read -----------------------------------------------------------------------


def test_new_host_gets_every_detail_and_label_query(agent, ubuntu_host):
    body = agent.json(READ, ubuntu_host.body())
    names = set(body["queries"])
    assert set(body["discovery"]) == names
    for expected in (
        "fleet_detail_query_os_version",
        "fleet_detail_query_osquery_info",
        "fleet_detail_query_system_info",
        "fleet_detail_query_osquery_flags",
        "fleet_detail_query_uptime",
        "fleet_detail_query_network_interface_unix",
        "fleet_detail_query_disk_space_unix",
        "fleet_detail_query_users",
        "fleet_detail_query_software_linux",
    ):
        assert expected in names
    assert "fleet_detail_query_software_windows" not in names
    all_hosts = Label.objects.get(name="All Hosts")
    assert f"fleet_label_query_{all_hosts.pk}" in names
    assert "accelerate" not in body  # hostname and platform came with the enroll


def test_windows_host_gets_windows_detail_queries(agent, enroll_host):
    names = set(agent.json(READ, enroll_host("enroll_windows").body())["queries"])
    assert "fleet_detail_query_os_version_windows" in names
    assert "fleet_detail_query_software_windows" in names
    assert "fleet_detail_query_disk_space_unix" not in names


def test_host_without_hostname_is_accelerated(agent, enroll_host):
    enrolled = enroll_host(host_details={})
    assert agent.json(READ, enrolled.body())["accelerate"] == 10


def test_table_gated_queries_carry_a_discovery_query(agent, enroll_host):
    body = agent.json(READ, enroll_host("enroll_macos").body())
    assert "osquery_registry" in body["discovery"]["fleet_detail_query_disk_space_darwin"]
    assert body["discovery"]["fleet_detail_query_system_info"] == "SELECT 1;"


def test_detail_results_are_stored_and_nothing_is_due_afterwards(agent, ubuntu_host):
    agent.json(READ, ubuntu_host.body())
    assert agent.json(WRITE, detail_write(ubuntu_host), environ={"REMOTE_ADDR": "203.0.113.9"}) == {}
    host = ubuntu_host.refresh()
    assert host.primary_ip == "10.0.3.17"
    assert host.primary_mac == "52:54:00:ab:cd:ef"
    assert host.public_ip == "203.0.113.9"
    assert host.distributed_interval == 10
    assert host.config_tls_refresh == 60
    assert host.uptime_seconds == 273906
    assert host.gigs_disk_space_available == 98.61
    assert host.gigs_all_disk_space == 1229.33
    assert host.orbit_version == "1.40.0"
    assert host.scripts_enabled is True
    assert host.refetch_requested is False
    assert host.detail_updated_at > timezone.now() - timedelta(minutes=1)
    assert sorted(HostUser.objects.filter(host=host).values_list("username", flat=True)) == ["alice", "root"]
    assert HostSoftware.objects.filter(host=host).count() == 3
    # The label queries were not answered, so they are still due; the details are not.
    names = set(agent.json(READ, ubuntu_host.body())["queries"])
    assert not any(name.startswith("fleet_detail_query_") for name in names)


def test_details_come_back_after_the_interval_or_a_refetch(agent, ubuntu_host, api):
    agent.json(WRITE, detail_write(ubuntu_host))
    Host.objects.filter(pk=ubuntu_host.host.pk).update(label_updated_at=timezone.now())
    assert agent.json(READ, ubuntu_host.body())["queries"] == {}
    assert api.post(f"/api/latest/fleet/hosts/{ubuntu_host.host.pk}/refetch").status_code == 200
    assert "fleet_detail_query_system_info" in agent.json(READ, ubuntu_host.body())["queries"]
    agent.json(WRITE, detail_write(ubuntu_host))
    Host.objects.filter(pk=ubuntu_host.host.pk).update(
        detail_updated_at=timezone.now() - timedelta(hours=2), label_updated_at=timezone.now()
    )
    assert "fleet_detail_query_system_info" in agent.json(READ, ubuntu_host.body())["queries"]


def test_failed_detail_query_is_skipped(agent, ubuntu_host):
    agent.json(
        WRITE,
        detail_write(
            ubuntu_host,
            queries={"fleet_detail_query_system_info": [{"hostname": "should-not-land"}]},
            statuses={"fleet_detail_query_system_info": 1},
            messages={"fleet_detail_query_system_info": "no such table: system_info"},
        ),
    )
    assert ubuntu_host.refresh().hostname == "web-01.example.com"


def test_label_results_set_membership(agent, ubuntu_host):
    ubuntu = Label.objects.get(name="Ubuntu Linux")
    macos = Label.objects.get(name="macOS")
    linux = Label.objects.get(name="All Linux")
    LabelMembership.objects.create(label=macos, host=ubuntu_host.host)
    LabelMembership.objects.create(label=linux, host=ubuntu_host.host)
    agent.json(
        WRITE,
        ubuntu_host.body(
            queries={
                f"fleet_label_query_{ubuntu.pk}": [{"1": "1"}],
                f"fleet_label_query_{macos.pk}": "",
                f"fleet_label_query_{linux.pk}": [],
            },
            statuses={
                f"fleet_label_query_{ubuntu.pk}": 0,
                f"fleet_label_query_{macos.pk}": "0",
                f"fleet_label_query_{linux.pk}": 1,
            },
        ),
    )
    names = set(LabelMembership.objects.filter(host=ubuntu_host.host).values_list("label__name", flat=True))
    # Rows: member. No rows: not a member. Error: not a member either, as in Fleet.
    assert names == {"All Hosts", "Ubuntu Linux"}
    host = ubuntu_host.refresh()
    assert host.label_updated_at > timezone.now() - timedelta(minutes=1)


def test_new_dynamic_label_is_sent_on_the_next_label_refresh(agent, ubuntu_host, api):
    created = api.post(
        "/api/latest/fleet/labels", {"name": "Has curl", "query": "SELECT 1 FROM deb_packages WHERE name='curl';"}
    )
    label_id = created.json()["label"]["id"]
    assert f"fleet_label_query_{label_id}" in agent.json(READ, ubuntu_host.body())["queries"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"queries": [], "statuses": {}}, "queries must be an object"),
        ({"queries": {}, "statuses": {"q": [1]}}, "status of q must be an integer"),
        ({"queries": {}, "statuses": {"q": "abc"}}, "status of q must be an integer"),
        ({"queries": {}, "statuses": {"q": True}}, "status of q must be an integer"),
        ({"queries": {}, "messages": "x"}, "messages must be an object"),
    ],
)
def test_malformed_writes_are_400_and_write_nothing(agent, ubuntu_host, body, reason):
    body = (
        {**body, "queries": {**(body.get("queries") or {}), "fleet_detail_query_system_info": [{"hostname": "x"}]}}
        if isinstance(body.get("queries"), dict)
        else body
    )
    response = agent.json(WRITE, ubuntu_host.body(**body), expect=400)
    assert reason in response["error"]
    assert ubuntu_host.refresh().hostname == "web-01.example.com"


def test_unparsable_rows_mean_no_rows(agent, ubuntu_host):
    label = Label.objects.get(name="All Hosts")
    agent.json(WRITE, ubuntu_host.body(queries={f"fleet_label_query_{label.pk}": 17, "x": "junk"}, statuses={}))
    assert not LabelMembership.objects.filter(host=ubuntu_host.host, label=label).exists()


def test_unknown_detail_query_is_ignored(agent, ubuntu_host):
    assert agent.json(WRITE, ubuntu_host.body(queries={"fleet_detail_query_nope": [{"a": "b"}]})) == {}


# --- constant SQL per check-in --------------------------------------------------------------


def _make_fleet(count: int, labels: int) -> None:
    now = timezone.now()
    Host.objects.bulk_create(
        [
            Host(osquery_host_id=f"bulk-{i}", hostname=f"bulk-{i}", platform="ubuntu", seen_time=now)
            for i in range(count)
        ]
    )
    Label.objects.bulk_create([Label(name=f"label-{i}", query=f"SELECT {i};") for i in range(labels)])


@pytest.mark.parametrize(("hosts", "labels"), [(1, 0), (300, 40)])
def test_idle_distributed_read_costs_one_query_whatever_the_fleet_size(
    agent, ubuntu_host, django_assert_max_num_queries, hosts, labels
):
    _make_fleet(hosts, labels)
    agent.json(WRITE, detail_write(ubuntu_host))
    Host.objects.filter(pk=ubuntu_host.host.pk).update(label_updated_at=timezone.now())
    agent.json(READ, ubuntu_host.body())  # warms the config, policy and campaign caches, as in a running server
    with django_assert_max_num_queries(1):
        assert agent.json(READ, ubuntu_host.body())["queries"] == {}


@pytest.mark.parametrize(("hosts", "labels"), [(1, 0), (300, 40)])
def test_config_check_in_costs_constant_queries(
    agent, enroll_host, team_secret, django_assert_max_num_queries, hosts, labels
):
    _make_fleet(hosts, labels)
    enrolled = enroll_host(secret=team_secret)
    agent.json(CONFIG, enrolled.body())  # warms the config and schedule caches
    with django_assert_max_num_queries(1):
        agent.json(CONFIG, enrolled.body())


@pytest.mark.parametrize("labels", [0, 40])
def test_label_refresh_read_costs_constant_queries(agent, ubuntu_host, django_assert_max_num_queries, labels):
    _make_fleet(0, labels)
    agent.json(READ, ubuntu_host.body())  # warms the label cache
    with django_assert_max_num_queries(1):
        body = agent.json(READ, ubuntu_host.body())
    assert (
        sum(name.startswith("fleet_label_query_") for name in body["queries"]) == 3 + labels
    )  # All Hosts, All Linux, Ubuntu Linux + ours


@pytest.mark.parametrize("software_rows", [3, 60])
def test_detail_write_costs_constant_queries(agent, ubuntu_host, django_assert_max_num_queries, software_rows):
    rows = [
        {"name": f"pkg-{i}", "version": "1.0", "source": "deb_packages", "vendor": "", "arch": "amd64"}
        for i in range(software_rows)
    ]
    body = detail_write(ubuntu_host, queries={"fleet_detail_query_software_linux": rows})
    # The host, the catalogue (read, new rows, read back), then in a savepoint the host row and the
    # users, links and change log: a new host has no side-table rows to read back.
    with django_assert_max_num_queries(10):
        agent.json(WRITE, body)
    assert Software.objects.count() == software_rows
    with django_assert_max_num_queries(4):  # the same answer again: the host, its row in a savepoint
        agent.json(WRITE, body)


SIDE_TABLES = ("hosts_software", "hosts_hostsoftware", "hosts_hostuser", "hosts_hostdevicemapping")


def _touched_side_tables(captured) -> set[str]:
    quoted = {table: (f'"{table}"', f"`{table}`") for table in SIDE_TABLES}  # SQLite and PostgreSQL, MySQL
    sqls = [query["sql"] for query in captured.captured_queries]
    return {table for table, names in quoted.items() if any(name in sql for sql in sqls for name in names)}


def test_an_unchanged_answer_touches_no_side_table_and_a_changed_one_is_stored(agent, ubuntu_host):
    """A refetch answered as before (software, users, Chrome e-mails) costs no statement for them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    chrome = {"fleet_detail_query_google_chrome_profiles": [{"email": "alice@example.com"}]}
    agent.json(WRITE, detail_write(ubuntu_host, queries=chrome))
    host = ubuntu_host.refresh()
    stored = (host.detail_digests, HostSoftware.objects.filter(host=host).count(), HostUser.objects.count())
    assert stored[1:] == (3, 2)
    with CaptureQueriesContext(connection) as unchanged:
        agent.json(WRITE, detail_write(ubuntu_host, queries=chrome))
    assert _touched_side_tables(unchanged) == set()
    host = ubuntu_host.refresh()
    assert (host.detail_digests, HostSoftware.objects.filter(host=host).count(), HostUser.objects.count()) == stored
    assert host.detail_updated_at > timezone.now() - timedelta(minutes=1)

    software = payload("distributed_write_ubuntu")["queries"]["fleet_detail_query_software_linux"][:2]
    with CaptureQueriesContext(connection) as changed:
        agent.json(WRITE, detail_write(ubuntu_host, queries={**chrome, "fleet_detail_query_software_linux": software}))
    assert _touched_side_tables(changed) == {"hosts_software", "hosts_hostsoftware"}
    assert sorted(HostSoftware.objects.filter(host=host).values_list("software__name", flat=True)) == [
        "curl",
        "openssl",
    ]
    assert list(host.device_mappings.values_list("email", flat=True)) == ["alice@example.com"]


def test_rows_changed_outside_ingestion_are_stored_again_once_the_digests_are_forgotten(agent, ubuntu_host):
    from hosts import digests

    agent.json(WRITE, detail_write(ubuntu_host))
    HostUser.objects.filter(host=ubuntu_host.host).delete()
    digests.forget([ubuntu_host.host.pk])
    agent.json(WRITE, detail_write(ubuntu_host))
    assert sorted(HostUser.objects.filter(host=ubuntu_host.host).values_list("username", flat=True)) == [
        "alice",
        "root",
    ]


def test_check_ins_batch_the_seen_time(agent, ubuntu_host):
    before = ubuntu_host.refresh().seen_time
    agent.json(READ, ubuntu_host.body())
    assert ubuntu_host.refresh().seen_time == before  # not written per request
    assert seen.buffer.flush() == 1
    host = ubuntu_host.refresh()
    assert host.seen_time > before
    assert host.online_until > timezone.now()


# --- log ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "file"), [("log_result", "osqueryd.results.log"), ("log_status", "osqueryd.status.log")]
)
def test_logs_are_appended_as_json_lines(agent, ubuntu_host, settings, name, file):
    body = payload(name)
    assert agent.json(LOG, ubuntu_host.body(**body), gzip=True) == {}
    lines = (settings.DATA_DIR / "logs" / file).read_text().splitlines()
    assert [json.loads(line) for line in lines] == body["data"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"log_type": "nope", "data": []}, "unknown log type: nope"),
        ({"log_type": "status", "data": {"a": 1}}, "unmarshalling status logs"),
        ({"log_type": "result", "data": [1, 2]}, "unmarshalling result logs"),
    ],
)
def test_bad_logs_are_400(agent, ubuntu_host, body, reason):
    assert reason in agent.json(LOG, ubuntu_host.body(**body), expect=400)["error"]


def test_log_with_unknown_key_is_401(agent, db):
    assert agent.json(LOG, {"node_key": "x", "log_type": "status", "data": []}, expect=401)["node_invalid"] is True


def test_deleted_team_leaves_hosts_checking_in(agent, enroll_host, team_secret):
    enrolled = enroll_host(secret=team_secret)
    Team.objects.all().delete()
    assert agent.json(CONFIG, enrolled.body()) == DEFAULT_AGENT_OPTIONS["config"]


def test_flushed_seen_time_keeps_the_window_a_write_just_learned(agent, ubuntu_host):
    agent.json(WRITE, detail_write(ubuntu_host))  # osquery_flags: distributed 10, config refresh 60 -> 70 s
    seen.buffer.flush()  # the check-in's own seen time, noted before the flags were ingested
    host = ubuntu_host.refresh()
    assert host.online_until >= host.seen_time + timedelta(seconds=70)
