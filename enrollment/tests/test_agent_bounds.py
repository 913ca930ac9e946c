"""Agent values that do not fit their columns (issue 12 findings 5 and 6).

A value out of range is stored as unknown, a string is cut to its column and loses NUL bytes,
and one bad answer never costs the other answers of the same distributed/write.
"""

from __future__ import annotations

from typing import Any

import pytest

from enrollment.tests.fixtures import CompanionAnswers, payload
from hosts.models import Host, HostSoftware, HostUser
from queries.models import CampaignResult

WRITE = "/api/osquery/distributed/write"
ENROLL = "/api/osquery/enroll"
ORBIT_ENROLL = "/api/fleet/orbit/enroll"
HUGE = 10**23


def _write(agent: Any, enrolled: Any, others: CompanionAnswers, queries: dict[str, Any]) -> None:
    body = payload("distributed_write_ubuntu")
    body["queries"].update(queries)
    body["queries"].update(others.queries)
    body["statuses"].update(dict.fromkeys(others.queries, 0))
    agent.json(WRITE, enrolled.body(**body))


def _system_info(**values: Any) -> dict[str, list[dict[str, Any]]]:
    row = payload("distributed_write_ubuntu")["queries"]["fleet_detail_query_system_info"][0]
    return {"fleet_detail_query_system_info": [{**row, **values}]}


@pytest.mark.parametrize("memory", ["1e999", "-1e999", str(HUGE), 1e23, 1e300, "nan"])
def test_physical_memory_out_of_range_is_unknown_and_the_rest_is_stored(agent, ubuntu_host, companion_answers, memory):
    _write(agent, ubuntu_host, companion_answers, _system_info(physical_memory=memory, hostname="poisoned-01"))
    host = ubuntu_host.refresh()
    assert host.memory == 0  # unknown
    assert host.hostname == "poisoned-01"  # the other columns of the same answer
    companion_answers.assert_stored()


def test_a_huge_uid_is_unknown_and_the_other_users_stay(agent, ubuntu_host, companion_answers):
    users = [
        {"uid": str(HUGE), "username": "mallory", "type": "", "groupname": "", "shell": ""},
        {"uid": str(HUGE * 10), "username": "mallory", "type": "", "groupname": "", "shell": ""},
        {"uid": "1000", "username": "alice", "type": "", "groupname": "", "shell": "/bin/bash"},
    ]
    _write(agent, ubuntu_host, companion_answers, {"fleet_detail_query_users": users})
    stored = dict(HostUser.objects.filter(host=ubuntu_host.host).values_list("username", "uid"))
    assert stored == {"mallory": -1, "alice": 1000}
    companion_answers.assert_stored()


def test_an_osquery_flag_out_of_range_is_unknown(agent, ubuntu_host, companion_answers):
    flags = [
        {"name": "distributed_interval", "value": str(10**20)},
        {"name": "config_tls_refresh", "value": "1e999"},
        {"name": "logger_tls_period", "value": "10"},
    ]
    _write(agent, ubuntu_host, companion_answers, {"fleet_detail_query_osquery_flags": flags})
    host = ubuntu_host.refresh()
    assert (host.distributed_interval, host.config_tls_refresh, host.logger_tls_period) == (0, 0, 10)
    companion_answers.assert_stored()


def test_nul_bytes_are_stripped_from_stored_strings(agent, ubuntu_host, companion_answers):
    software = [{"name": "cu\x00rl", "version": "7.81\x00", "source": "deb_packages", "arch": "amd64"}]
    users = [{"uid": "1000", "username": "al\x00ice", "type": "", "groupname": "", "shell": ""}]
    queries = {
        **_system_info(hostname="web\x00-01"),
        "fleet_detail_query_users": users,
        "fleet_detail_query_software_linux": software,
    }
    _write(agent, ubuntu_host, companion_answers, queries)
    assert ubuntu_host.refresh().hostname == "web-01"
    assert list(HostUser.objects.filter(host=ubuntu_host.host).values_list("username", flat=True)) == ["alice"]
    installed = HostSoftware.objects.select_related("software").get(host=ubuntu_host.host).software
    assert (installed.name, installed.version) == ("curl", "7.81")
    companion_answers.assert_stored()


def test_nul_bytes_in_live_query_rows_and_errors_are_stripped(agent, ubuntu_host, companion_answers):
    name = companion_answers.campaign_query
    body = ubuntu_host.body(queries={name: [{"pa\x00th": "/tmp/\x00x"}]}, statuses={name: 0})
    agent.json(WRITE, body)
    result = CampaignResult.objects.get(host=ubuntu_host.host)
    assert result.rows == [{"path": "/tmp/x"}]


def test_overlong_strings_are_cut_to_their_column(agent, ubuntu_host, companion_answers):
    _write(agent, ubuntu_host, companion_answers, _system_info(hostname="h" * 100_000, cpu_brand="c" * 300))
    host = ubuntu_host.refresh()
    assert host.hostname == "h" * Host._meta.get_field("hostname").max_length
    assert len(host.cpu_brand) == Host._meta.get_field("cpu_brand").max_length
    companion_answers.assert_stored()


# --- identifiers are refused, not cut ------------------------------------------------------------


@pytest.mark.parametrize("identifier", ["h" * 100_000, "h" * 256, "web\x00-01"])
def test_osquery_enroll_refuses_an_identifier_that_does_not_fit(agent, enroll_secret, identifier):
    body = payload("enroll_ubuntu", enroll_secret=enroll_secret, host_identifier=identifier)
    response = agent.post(ENROLL, body)
    assert response.status_code == 400, response.content
    assert "host_identifier" in response.json()["error"]
    assert not Host.objects.exists()


@pytest.mark.parametrize("field", ["hardware_uuid", "hardware_serial", "osquery_identifier", "enroll_secret"])
@pytest.mark.parametrize("value", ["u" * 100_000, "u\x00u"])
def test_orbit_enroll_refuses_an_identifier_that_does_not_fit(agent, enroll_secret, field, value):
    body = payload("orbit_enroll", **{"enroll_secret": enroll_secret, field: value})
    response = agent.post(ORBIT_ENROLL, body)
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["reason"].startswith(field)
    assert not Host.objects.exists()


def test_osquery_enroll_refuses_an_overlong_secret(agent, enroll_secret):
    body = payload("enroll_ubuntu", enroll_secret="s" * 100_000)
    response = agent.post(ENROLL, body)
    assert response.status_code == 400
    assert "enroll_secret" in response.json()["error"]


def test_an_overlong_node_key_is_refused(agent, ubuntu_host):
    response = agent.post("/api/osquery/config", {"node_key": "k" * 100_000})
    assert response.status_code == 400
    assert "node_key" in response.json()["error"]


# --- one refused answer does not drop the others -------------------------------------------------


def test_an_answer_the_database_refuses_is_dropped_alone(agent, ubuntu_host, companion_answers, monkeypatch):
    """Defence behind fitting: whatever the database still refuses costs only its own answer."""
    from django.db import DataError

    from hosts import ingest

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise DataError("Out of range value for column 'uid'")

    monkeypatch.setattr(ingest, "_replace_users", refuse)
    users = [{"uid": "1000", "username": "alice", "type": "", "groupname": "", "shell": ""}]
    _write(
        agent, ubuntu_host, companion_answers, {**_system_info(hostname="kept-01"), "fleet_detail_query_users": users}
    )
    assert ubuntu_host.refresh().hostname == "kept-01"
    assert not HostUser.objects.filter(host=ubuntu_host.host).exists()
    companion_answers.assert_stored()
    # The same answer, once the database takes it, is stored: a dropped section leaves no digest behind.
    monkeypatch.undo()
    _write(
        agent, ubuntu_host, companion_answers, {**_system_info(hostname="kept-01"), "fleet_detail_query_users": users}
    )
    assert list(HostUser.objects.filter(host=ubuntu_host.host).values_list("username", flat=True)) == ["alice"]


def test_a_host_column_the_database_refuses_costs_only_that_column(agent, ubuntu_host, companion_answers, monkeypatch):
    from django.db import DataError

    from hosts import ingest

    real_update = ingest.update_one

    def update(model: type, pk: Any, fields: dict[str, Any]) -> None:
        if model is Host and "cpu_brand" in fields:
            raise DataError("Data too long for column 'cpu_brand'")
        real_update(model, pk, fields)

    monkeypatch.setattr(ingest, "update_one", update)
    _write(agent, ubuntu_host, companion_answers, _system_info(hostname="kept-02", cpu_brand="refused"))
    host = ubuntu_host.refresh()
    assert host.hostname == "kept-02"
    assert host.cpu_brand != "refused"
    companion_answers.assert_stored()
