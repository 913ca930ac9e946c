"""fleetd (orbit) and My Device endpoints (fleet-protocol §2, §3, §7)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from enrollment.tests.fixtures import payload
from hosts.models import Host

ORBIT_ENROLL = "/api/fleet/orbit/enroll"
ORBIT_CONFIG = "/api/fleet/orbit/config"
DEVICE_TOKEN = "/api/fleet/orbit/device_token"
AUTH_REQUIRED = {
    "message": "Authentication required",
    "errors": [{"name": "base", "reason": "Authentication required"}],
}


@pytest.fixture
def orbit(agent, enroll_secret):
    """An orbit-enrolled Ubuntu host: (orbit node key, host)."""
    response = agent.post(ORBIT_ENROLL, payload("orbit_enroll", enroll_secret=enroll_secret))
    assert response.status_code == 200
    return response.json()["orbit_node_key"], Host.objects.get()


def test_orbit_enroll_creates_the_host_and_announces_capabilities(agent, enroll_secret):
    response = agent.post(ORBIT_ENROLL, payload("orbit_enroll", enroll_secret=enroll_secret))
    assert response.status_code == 200
    assert response["X-Fleet-Capabilities"] == "orbit_endpoints,token_rotation"
    assert len(response.json()["orbit_node_key"]) == 32
    host = Host.objects.get()
    assert host.osquery_host_id == host.uuid == "4C4C4544-0052-3410-8058-B7C04F4A4E32"
    assert (host.hostname, host.platform, host.hardware_serial) == ("web-01.example.com", "ubuntu", "7XK2Q53")
    assert host.refetch_requested is True


def test_orbit_unknown_secret_is_401_authentication_failed(agent, enroll_secret):
    response = agent.post(ORBIT_ENROLL, payload("orbit_enroll", enroll_secret="nope"))
    assert response.status_code == 401
    assert response.json() == {
        "message": "Authentication failed",
        "errors": [{"name": "base", "reason": "Authentication failed"}],
    }
    assert not Host.objects.exists()


def test_orbit_enroll_needs_a_hardware_uuid(agent, enroll_secret):
    response = agent.post(ORBIT_ENROLL, payload("orbit_enroll", enroll_secret=enroll_secret, hardware_uuid=""))
    assert response.status_code == 400
    assert response.json()["message"] == "Bad request"
    assert not Host.objects.exists()


@pytest.mark.parametrize("raw", [b"{bad", b"[]", b'{"enroll_secret": 5}'])
def test_orbit_bad_bodies_are_400_in_the_fleet_shape(agent, enroll_secret, raw):
    response = agent.post(ORBIT_ENROLL, None, raw=raw)
    assert response.status_code == 400
    assert set(response.json()) == {"message", "errors"}


def test_orbit_then_osquery_enroll_make_one_host_with_both_keys(agent, orbit, enroll_host):
    orbit_key, host = orbit
    enrolled = enroll_host()
    assert Host.objects.count() == 1
    assert enrolled.host.pk == host.pk
    agent.json(ORBIT_CONFIG, {"orbit_node_key": orbit_key})
    agent.json("/api/osquery/config", enrolled.body())


def test_osquery_then_orbit_enroll_make_one_host(agent, enroll_host, enroll_secret):
    enrolled = enroll_host()
    agent.json(ORBIT_ENROLL, payload("orbit_enroll", enroll_secret=enroll_secret))
    assert Host.objects.count() == 1
    agent.json("/api/osquery/config", enrolled.body())


def test_orbit_reenroll_replaces_the_orbit_key(agent, orbit, enroll_secret):
    old_key, host = orbit
    new_key = agent.json(ORBIT_ENROLL, payload("orbit_enroll", enroll_secret=enroll_secret))["orbit_node_key"]
    assert Host.objects.count() == 1
    assert agent.json(ORBIT_CONFIG, {"orbit_node_key": old_key}, expect=401) == AUTH_REQUIRED
    agent.json(ORBIT_CONFIG, {"orbit_node_key": new_key})


def test_orbit_instance_identifier_keeps_cloned_vms_apart(agent, enroll_secret):
    for instance in ("instance-a", "instance-b"):
        agent.json(ORBIT_ENROLL, payload("orbit_enroll", enroll_secret=enroll_secret, osquery_identifier=instance))
    assert Host.objects.count() == 2


def test_orbit_config_is_notifications_plus_configured_options(agent, orbit, team):
    key, host = orbit
    assert agent.json(ORBIT_CONFIG, {"orbit_node_key": key}) == {"notifications": {}}
    team.agent_options = {
        "config": {},
        "command_line_flags": {"verbose": True},
        "update_channels": {"orbit": "edge"},
        "script_execution_timeout": 600,
        "extensions": {"hello": {"platform": "linux", "channel": "stable"}, "mac": {"platform": "macos"}},
    }
    team.save()
    Host.objects.filter(pk=host.pk).update(team=team)
    assert agent.json(ORBIT_CONFIG, {"orbit_node_key": key}) == {
        "notifications": {},
        "command_line_startup_flags": {"verbose": True},
        "update_channels": {"orbit": "edge"},
        "script_execution_timeout": 600,
        "extensions": {"hello": {"platform": "linux", "channel": "stable"}},
    }


@pytest.mark.parametrize("body", [{}, {"orbit_node_key": ""}, {"orbit_node_key": "wrong"}, {"orbit_node_key": 7}])
def test_orbit_bad_key_is_401_authentication_required(agent, orbit, body):
    assert agent.json(ORBIT_CONFIG, body, expect=401) == AUTH_REQUIRED


def test_orbit_requests_do_not_bump_seen_time(agent, orbit):
    from hosts import seen

    key, _ = orbit
    agent.json(ORBIT_CONFIG, {"orbit_node_key": key})
    assert seen.buffer.pending() == 0


@pytest.mark.parametrize("method", ["head", "get"])
def test_orbit_ping_answers_with_capabilities(db, method):
    response = getattr(Client(), method)("/api/fleet/orbit/ping")
    assert response.status_code == 200
    assert response["X-Fleet-Capabilities"] == "orbit_endpoints,token_rotation"
    assert Client().head("/api/fleet/device/ping").status_code == 200


# --- device token and My Device -------------------------------------------------------------


def set_token(agent, key, token, expect=200):
    return agent.json(DEVICE_TOKEN, {"orbit_node_key": key, "device_auth_token": token}, expect=expect)


def test_device_token_opens_my_device(agent, orbit):
    key, host = orbit
    assert set_token(agent, key, "0c3b2a47-6c4e-4f44-9b0b-8c1a51a2b3c4") == {}
    response = Client().get("/api/latest/fleet/device/0c3b2a47-6c4e-4f44-9b0b-8c1a51a2b3c4")
    assert response.status_code == 200
    body = response.json()
    assert body["host"]["id"] == host.pk
    assert body["host"]["hostname"] == "web-01.example.com"
    assert body["license"] == {"tier": "free"}
    assert body["global_config"]["mdm"] == {"enabled_and_configured": False}
    assert Client().head("/api/v1/fleet/device/0c3b2a47-6c4e-4f44-9b0b-8c1a51a2b3c4/ping").status_code == 200


def test_device_token_expires_an_hour_after_rotation(agent, orbit):
    key, host = orbit
    set_token(agent, key, "token-1")
    Host.objects.filter(pk=host.pk).update(device_token_updated_at=timezone.now() - timedelta(minutes=61))
    response = Client().get("/api/latest/fleet/device/token-1")
    assert response.status_code == 401
    assert response.json() == AUTH_REQUIRED
    set_token(agent, key, "token-1")  # rotation (even to the same value) renews it
    assert Client().get("/api/latest/fleet/device/token-1").status_code == 200


def test_rotating_the_device_token_retires_the_old_one(agent, orbit):
    key, _ = orbit
    set_token(agent, key, "token-old")
    set_token(agent, key, "token-new")
    assert Client().get("/api/latest/fleet/device/token-old").status_code == 401
    assert Client().get("/api/latest/fleet/device/token-new").status_code == 200


@pytest.mark.parametrize("token", ["", "has space", "a/b", "ü"])
def test_device_token_must_be_url_safe(agent, orbit, token):
    key, _ = orbit
    assert set_token(agent, key, token, expect=400)["message"] == "Bad request"


def test_device_token_of_another_host_is_409(agent, orbit, enroll_secret):
    key, _ = orbit
    set_token(agent, key, "shared-token")
    other = agent.json(ORBIT_ENROLL, payload("orbit_enroll", enroll_secret=enroll_secret, hardware_uuid="OTHER-UUID"))
    assert set_token(agent, other["orbit_node_key"], "shared-token", expect=409)["message"] == "Conflict"


def test_unknown_device_token_is_401(db):
    response = Client().get("/api/latest/fleet/device/never-issued")
    assert response.status_code == 401
    assert response.json() == AUTH_REQUIRED


def test_device_refetch_desktop_and_transparency(agent, orbit):
    key, host = orbit
    Host.objects.filter(pk=host.pk).update(refetch_requested=False)
    set_token(agent, key, "tok")
    assert Client().post("/api/latest/fleet/device/tok/refetch").json() == {}
    assert Host.objects.get().refetch_requested is True
    desktop = Client().get("/api/latest/fleet/device/tok/desktop").json()
    assert desktop["failing_policies_count"] == 0
    response = Client().get("/api/latest/fleet/device/tok/transparency")
    assert response.status_code == 307
    assert response["Location"] == "https://fleetdm.com/transparency"
