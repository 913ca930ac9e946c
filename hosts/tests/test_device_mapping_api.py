"""`/hosts/{id}/device_mapping` and orbit's `PUT /api/fleet/orbit/device_mapping` (Fleet's hosts.go, orbit.go)."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest
from django.test import Client

from accounts.models import Team, User
from conftest import APIClient
from enrollment.tests.fixtures import payload
from hosts import device_mapping
from hosts.choices import DeviceMappingSource
from hosts.models import Host, HostDeviceMapping

BASE = "/api/latest/fleet"


@pytest.fixture
def team_host(team: Team) -> Host:
    return Host.objects.create(osquery_host_id="a", hostname="a", team=team)


def _put(client: APIClient, path: str, body: object) -> object:
    return client.client.put(path, orjson.dumps(body), content_type="application/json", headers=client.headers)


def test_put_sets_the_custom_email_and_lists_every_source(api: APIClient, team_host: Host) -> None:
    HostDeviceMapping.objects.create(
        host=team_host, email="b@example.com", source=DeviceMappingSource.GOOGLE_CHROME_PROFILES
    )
    response = _put(api, f"{BASE}/hosts/{team_host.pk}/device_mapping", {"email": "a@example.com"})
    assert response.status_code == 200, response.content
    assert response.json() == {
        "host_id": team_host.pk,
        "device_mapping": [
            {"email": "a@example.com", "source": "custom"},
            {"email": "b@example.com", "source": "google_chrome_profiles"},
        ],
    }
    # A second PUT replaces the custom e-mail, it does not add one.
    _put(api, f"{BASE}/hosts/{team_host.pk}/device_mapping", {"email": "c@example.com", "source": "custom"})
    listed = api.get(f"{BASE}/hosts/{team_host.pk}/device_mapping").json()["device_mapping"]
    assert listed == [
        {"email": "b@example.com", "source": "google_chrome_profiles"},
        {"email": "c@example.com", "source": "custom"},
    ]


def test_idp_email_is_set_and_deleted_with_204(api: APIClient, team_host: Host) -> None:
    _put(api, f"{BASE}/hosts/{team_host.pk}/device_mapping", {"email": "sso@example.com", "source": "idp"})
    assert device_mapping.mapping_json(team_host) == [{"email": "sso@example.com", "source": "mdm_idp_accounts"}]
    response = api.delete(f"{BASE}/hosts/{team_host.pk}/device_mapping/idp")
    assert response.status_code == 204
    assert response.content == b""
    assert device_mapping.mapping_json(team_host) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "email"),
        ({"email": ""}, "email"),
        ({"email": "x" * 256}, "email"),
        ({"email": "a@b", "source": "x"}, "source"),
    ],
)
def test_bad_input_is_422_in_fleet_shape(api: APIClient, team_host: Host, body: dict, field: str) -> None:
    response = _put(api, f"{BASE}/hosts/{team_host.pk}/device_mapping", body)
    assert response.status_code == 422
    assert response.json()["message"] == "Validation Failed"
    assert response.json()["errors"][0]["name"] == field


def test_observer_reads_but_cannot_write(
    observer: User, api_client_as: Callable[[User | None], APIClient], team_host: Host
) -> None:
    client = api_client_as(observer)
    assert client.get(f"{BASE}/hosts/{team_host.pk}/device_mapping").json() == {
        "host_id": team_host.pk,
        "device_mapping": [],
    }
    response = _put(client, f"{BASE}/hosts/{team_host.pk}/device_mapping", {"email": "a@example.com"})
    assert response.status_code == 403
    assert client.delete(f"{BASE}/hosts/{team_host.pk}/device_mapping/idp").status_code == 403
    assert not HostDeviceMapping.objects.exists()


def test_another_teams_user_gets_404(
    outsider: User, api_client_as: Callable[[User | None], APIClient], team_host: Host
) -> None:
    client = api_client_as(outsider)
    assert client.get(f"{BASE}/hosts/{team_host.pk}/device_mapping").status_code == 404
    assert _put(client, f"{BASE}/hosts/{team_host.pk}/device_mapping", {"email": "a@b"}).status_code == 404
    assert client.delete(f"{BASE}/hosts/{team_host.pk}/device_mapping/idp").status_code == 404


def test_anonymous_is_401(db: None, team_host: Host) -> None:
    assert Client().get(f"{BASE}/hosts/{team_host.pk}/device_mapping").status_code == 401


# --- orbit ---------------------------------------------------------------------------------

ORBIT_MAPPING = "/api/fleet/orbit/device_mapping"


def _orbit_put(body: object) -> object:
    return Client().put(ORBIT_MAPPING, orjson.dumps(body), content_type="application/json")


def test_orbit_sets_the_installer_email_which_a_user_then_overrides(agent, enroll_secret: str, api: APIClient) -> None:
    key = agent.json("/api/fleet/orbit/enroll", payload("orbit_enroll", enroll_secret=enroll_secret))["orbit_node_key"]
    response = _orbit_put({"orbit_node_key": key, "email": "user@example.com"})
    assert response.status_code == 200
    assert response.json() == {}
    host = Host.objects.get()
    assert list(HostDeviceMapping.objects.values_list("email", "source")) == [
        ("user@example.com", DeviceMappingSource.CUSTOM_INSTALLER)
    ]
    _put(api, f"{BASE}/hosts/{host.pk}/device_mapping", {"email": "fixed@example.com"})
    assert list(HostDeviceMapping.objects.values_list("email", "source")) == [
        ("fixed@example.com", DeviceMappingSource.CUSTOM_OVERRIDE)
    ]


def test_orbit_unknown_key_is_401_and_bad_bodies_400(agent, enroll_secret: str) -> None:
    response = _orbit_put({"orbit_node_key": "nope", "email": "a@b"})
    assert response.status_code == 401
    assert response.json()["message"] == "Authentication required"
    key = agent.json("/api/fleet/orbit/enroll", payload("orbit_enroll", enroll_secret=enroll_secret))["orbit_node_key"]
    for body in (
        {"orbit_node_key": key},
        {"orbit_node_key": key, "email": 5},
        {"orbit_node_key": key, "email": "x" * 300},
    ):
        response = _orbit_put(body)
        assert response.status_code == 400, body
        assert set(response.json()) == {"message", "errors"}
    assert agent.post(ORBIT_MAPPING, {"orbit_node_key": key, "email": "a@b"}).status_code == 405


def test_host_detail_shows_emails_as_fleets_end_users(api: APIClient, team_host: Host) -> None:
    assert api.get(f"{BASE}/hosts/{team_host.pk}").json()["host"]["end_users"] == []
    device_mapping.set_idp(team_host, "sso@example.com")
    device_mapping.set_custom(team_host, "me@example.com")
    HostDeviceMapping.objects.create(
        host=team_host, email="chrome@example.com", source=DeviceMappingSource.GOOGLE_CHROME_PROFILES
    )
    assert api.get(f"{BASE}/hosts/{team_host.pk}").json()["host"]["end_users"] == [
        {
            "idp_username": "sso@example.com",
            "other_emails": [
                {"email": "chrome@example.com", "source": "google_chrome_profiles"},
                {"email": "me@example.com", "source": "custom"},
            ],
        }
    ]


def test_host_lists_add_emails_with_device_mapping_true(api: APIClient, team_host: Host) -> None:
    bare = Host.objects.create(osquery_host_id="b", hostname="b")
    device_mapping.set_custom(team_host, "me@example.com")
    for params in ({"device_mapping": "true", "per_page": 10}, {"device_mapping": "true"}):
        hosts = {h["id"]: h for h in api.get(f"{BASE}/hosts", params).json()["hosts"]}
        assert hosts[team_host.pk]["device_mapping"] == [{"email": "me@example.com", "source": "custom"}]
        assert "device_mapping" not in hosts[bare.pk]
    plain = api.get(f"{BASE}/hosts", {"per_page": 10}).json()["hosts"]
    assert all("device_mapping" not in h for h in plain)
