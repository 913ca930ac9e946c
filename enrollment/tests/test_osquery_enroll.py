"""osquery enroll (fleet-protocol §1.1) and host matching (§7)."""

from __future__ import annotations

import pytest

from enrollment.tests.fixtures import payload
from fleetsite.lib.tokens import digest
from hosts.constants import NEVER_UPDATED
from hosts.models import Host, LabelMembership

ENROLL = "/api/osquery/enroll"


def test_enroll_returns_a_32_character_node_key_and_creates_the_host(agent, enroll_secret):
    body = agent.json(ENROLL, payload("enroll_ubuntu", enroll_secret=enroll_secret))
    assert set(body) == {"node_key"}
    assert len(body["node_key"]) == 32
    host = Host.objects.get()
    assert host.node_key_digest == digest(body["node_key"])
    assert host.osquery_host_id == "4C4C4544-0052-3410-8058-B7C04F4A4E32"
    assert host.refetch_requested is True
    assert host.detail_updated_at == NEVER_UPDATED
    assert host.label_updated_at == NEVER_UPDATED


def test_enroll_ingests_host_details_as_detail_queries(enroll_host):
    host = enroll_host().host
    assert host.hostname == "web-01.example.com"
    assert host.computer_name == "web-01"
    assert host.platform == "ubuntu"
    assert host.platform_like == "debian"
    assert host.os_version == "Ubuntu 22.04.3 LTS"
    assert host.osquery_version == "5.12.1"
    assert host.memory == 17179869184
    assert host.cpu_logical_cores == 8
    assert host.hardware_serial == "7XK2Q53"
    assert host.uuid == "4C4C4544-0052-3410-8058-B7C04F4A4E32"


def test_enroll_puts_the_host_in_all_hosts(enroll_host):
    host = enroll_host().host
    assert list(LabelMembership.objects.filter(host=host).values_list("label__name", flat=True)) == ["All Hosts"]


def test_windows_junk_serial_is_blanked(enroll_host):
    host = enroll_host("enroll_windows").host
    assert host.platform == "windows"
    assert host.hardware_serial == ""


def test_unknown_secret_is_401_node_invalid_and_writes_nothing(agent, enroll_secret):
    body = agent.json(ENROLL, payload("enroll_ubuntu", enroll_secret="not-a-secret"), expect=401)
    assert body["node_invalid"] is True
    assert body["error"].startswith("enroll failed")
    assert "node_key" not in body
    assert not Host.objects.exists()


def test_reenroll_reuses_the_host_and_invalidates_the_old_key(agent, enroll_host):
    first = enroll_host()
    second = enroll_host()
    assert first.host.pk == second.host.pk
    assert Host.objects.count() == 1
    assert first.node_key != second.node_key
    stale = agent.json("/api/osquery/config", first.body(), expect=401)
    assert stale["node_invalid"] is True
    agent.json("/api/osquery/config", second.body())


def test_team_secret_enrolls_into_the_team(enroll_host, team, team_secret):
    host = enroll_host(secret=team_secret).host
    assert host.team_id == team.pk


def test_reenroll_with_another_team_secret_moves_the_host(enroll_host, team, team_secret):
    assert enroll_host().host.team_id is None
    assert enroll_host(secret=team_secret).refresh().team_id == team.pk


def test_v1_alias_enrolls_too(agent, enroll_secret):
    agent.json("/api/v1/osquery/enroll", payload("enroll_macos", enroll_secret=enroll_secret))
    assert Host.objects.get().platform == "darwin"


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("provided", "4C4C4544-0052-3410-8058-B7C04F4A4E32"),
        ("instance", "9a3b1c2d-7e1f-4a5b-8c9d-0e1f2a3b4c5d"),
        ("hostname", "web-01.example.com"),
    ],
)
def test_server_host_identifier_setting_picks_the_identity(agent, enroll_secret, settings, setting, expected):
    settings.FLEETSITE_HOST_IDENTIFIER = setting
    agent.json(ENROLL, payload("enroll_ubuntu", enroll_secret=enroll_secret))
    assert Host.objects.get().osquery_host_id == expected


def test_enroll_cooldown_refuses_a_quick_reenroll(agent, enroll_host, enroll_secret, settings):
    settings.FLEETSITE_ENROLL_COOLDOWN = 60
    enrolled = enroll_host()
    response = agent.post(ENROLL, payload("enroll_ubuntu", enroll_secret=enroll_secret))
    assert response.status_code == 401
    assert response.json()["node_invalid"] is True
    agent.json("/api/osquery/config", enrolled.body())  # the existing key keeps working


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not valid UTF-8 JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"", "empty request body"),
        (b'{"enroll_secret": "\xff\xfe"}', "not valid UTF-8 JSON"),
        (b'{"enroll_secret": 42, "host_identifier": "x"}', "enroll_secret must be a string"),
        (b'{"enroll_secret": "s", "host_identifier": ["x"]}', "host_identifier must be a string"),
        (b'{"enroll_secret": "s", "host_identifier": "x", "host_details": "nope"}', "host_details must be an object"),
    ],
)
def test_bad_enroll_bodies_get_400_with_the_osquery_error_shape(agent, enroll_secret, raw, reason):
    response = agent.post(ENROLL, None, raw=raw)
    assert response.status_code == 400
    body = response.json()
    assert reason in body["error"]
    assert "node_invalid" not in body
    assert not Host.objects.exists()


def test_oversize_body_is_413(agent, enroll_secret, settings):
    settings.FLEETSITE_AGENT_MAX_BODY = 2048
    response = agent.post(ENROLL, payload("enroll_ubuntu", enroll_secret=enroll_secret, pad="x" * 4096))
    assert response.status_code == 413
    assert "exceeds" in response.json()["error"]
    assert not Host.objects.exists()


def test_gzip_bomb_is_413(agent, enroll_secret, settings):
    settings.FLEETSITE_AGENT_MAX_BODY = 4096
    body = payload("enroll_ubuntu", enroll_secret=enroll_secret, pad="a" * 100_000)
    response = agent.post(ENROLL, body, gzip=True)
    assert response.status_code == 413


def test_gzip_body_is_accepted(agent, enroll_secret):
    response = agent.post(ENROLL, payload("enroll_ubuntu", enroll_secret=enroll_secret), gzip=True)
    assert response.status_code == 200
    assert "node_key" in response.json()


def test_get_is_405_in_osquery_shape(agent):
    response = agent.client.get(ENROLL)
    assert response.status_code == 405
    assert "error" in response.json()


def test_host_with_empty_identifier_cannot_enroll(agent, enroll_secret):
    body = payload("enroll_ubuntu", enroll_secret=enroll_secret, host_identifier="", host_details={})
    assert agent.json(ENROLL, body, expect=401)["node_invalid"] is True
    assert not Host.objects.exists()


KEY_COLUMNS = (("node_key", "node_key_digest"), ("orbit_node_key", "orbit_node_key_digest"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("path", "body"), [(ENROLL, "enroll_ubuntu"), ("/api/fleet/orbit/enroll", "orbit_enroll")])
def test_an_enroll_the_database_picks_as_a_deadlock_victim_runs_again(agent, enroll_secret, monkeypatch, path, body):
    """MariaDB broke a lock cycle between an osquery enroll and a device-token UPDATE (bench, 2 workers): a 500."""
    from django.db import OperationalError

    from enrollment import enroll

    add_to_all_hosts, calls = enroll.labels.add_to_all_hosts, []

    def deadlocked_once(host):
        calls.append(host.pk)
        if len(calls) == 1:
            raise OperationalError(1213, "Deadlock found when trying to get lock; try restarting transaction")
        add_to_all_hosts(host)

    monkeypatch.setattr(enroll.labels, "add_to_all_hosts", deadlocked_once)
    response = agent.post(path, payload(body, enroll_secret=enroll_secret))
    assert response.status_code == 200, response.content
    assert len(calls) == 2 and Host.objects.count() == 1  # the second attempt, with nothing left of the first
    key, column = next((key, column) for key, column in KEY_COLUMNS if key in response.json())
    assert getattr(Host.objects.get(), column) == digest(response.json()[key])
