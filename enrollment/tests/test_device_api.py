"""The rest of the My Device API (fleet-protocol §3): device mapping, policies, software, macadmins,
certificates and fleetd's error reports, all behind the device token."""

from __future__ import annotations

import logging
from datetime import timedelta

import orjson
import pytest
from django.test import Client
from django.utils import timezone

from fleetsite.lib.tokens import digest
from hosts.choices import DeviceMappingSource
from hosts.models import Host, HostDeviceMapping, HostSoftware, Software
from queries.models import Policy, PolicyMembership

TOKEN = "0c3b2a47-6c4e-4f44-9b0b-8c1a51a2b3c4"
DEVICE = f"/api/latest/fleet/device/{TOKEN}"
AUTH_REQUIRED = {
    "message": "Authentication required",
    "errors": [{"name": "base", "reason": "Authentication required"}],
}


@pytest.fixture
def host(db: None) -> Host:
    return Host.objects.create(
        osquery_host_id="mac", hostname="mac", device_token_digest=digest(TOKEN), device_token_updated_at=timezone.now()
    )


def _install(host: Host, name: str, version: str, source: str = "apps") -> Software:
    software, _ = Software.objects.get_or_create(
        checksum=f"{name}-{version}-{source}", defaults={"name": name, "version": version, "source": source}
    )
    HostSoftware.objects.create(host=host, software=software, installed_path=f"/Applications/{name}.app")
    return software


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", "device_mapping"),
        ("get", "policies"),
        ("get", "software"),
        ("get", "macadmins"),
        ("get", "certificates"),
        ("post", "debug/errors"),
    ],
)
def test_a_bad_device_token_is_401(host: Host, method: str, suffix: str) -> None:
    response = getattr(Client(), method)(f"/api/latest/fleet/device/not-a-token/{suffix}")
    assert response.status_code == 401
    assert response.json() == AUTH_REQUIRED
    Host.objects.filter(pk=host.pk).update(device_token_updated_at=timezone.now() - timedelta(hours=2))
    assert getattr(Client(), method)(f"{DEVICE}/{suffix}").status_code == 401


def test_device_mapping_lists_the_hosts_emails(host: Host) -> None:
    HostDeviceMapping.objects.create(host=host, email="u@example.com", source=DeviceMappingSource.CUSTOM_INSTALLER)
    assert Client().get(f"{DEVICE}/device_mapping").json() == {
        "host_id": host.pk,
        "device_mapping": [{"email": "u@example.com", "source": "custom"}],
    }


def test_policies_show_this_hosts_answers_only(host: Host, team, other_team) -> None:
    everyone = Policy.objects.create(name="Firewall on", query="SELECT 1")
    PolicyMembership.objects.create(policy=everyone, host=host, passes=False)
    elsewhere = Policy.objects.create(name="Other team's", query="SELECT 1", team=other_team)
    PolicyMembership.objects.create(policy=elsewhere, host=host, passes=True)
    body = Client().get(f"{DEVICE}/policies").json()
    assert [(p["id"], p["name"], p["response"]) for p in body["policies"]] == [(everyone.pk, "Firewall on", "fail")]


def test_software_is_paged_by_title_with_installed_versions(host: Host) -> None:
    first = _install(host, "Zoom", "5.1")
    _install(host, "Zoom", "5.2")
    _install(host, "Arc", "1.0")
    other = Host.objects.create(osquery_host_id="other", hostname="other")
    _install(other, "Secret Tool", "1")
    body = Client().get(f"{DEVICE}/software", {"per_page": 1, "page": 1}).json()
    assert body["count"] == 2
    assert body["meta"] == {"has_next_results": False, "has_previous_results": True}
    (zoom,) = body["software"]
    assert zoom["id"] == first.pk  # the fleet-wide title id, as in /software/titles
    assert (zoom["name"], zoom["source"], zoom["status"]) == ("Zoom", "apps", None)
    assert zoom["software_package"] is None and zoom["app_store_app"] is None
    assert [v["version"] for v in zoom["installed_versions"]] == ["5.1", "5.2"]
    assert zoom["installed_versions"][0]["installed_paths"] == ["/Applications/Zoom.app"]
    names = [s["name"] for s in Client().get(f"{DEVICE}/software", {"order_direction": "desc"}).json()["software"]]
    assert names == ["Zoom", "Arc"]
    assert Client().get(f"{DEVICE}/software", {"query": "arc"}).json()["count"] == 1
    assert Client().get(f"{DEVICE}/software", {"vulnerable": "true"}).json()["software"] == []


@pytest.mark.parametrize("params", [{"per_page": "x"}, {"page": "-1"}, {"order_key": "version"}])
def test_software_bad_paging_or_sort_is_400(host: Host, params: dict) -> None:
    response = Client().get(f"{DEVICE}/software", params)
    assert response.status_code == 400
    assert response.json()["message"] == "Bad request"


def test_macadmins_is_null_without_munki_or_mdm_data(host: Host) -> None:
    assert Client().get(f"{DEVICE}/macadmins").json() == {"macadmins": None}


def test_certificates_are_an_empty_page(host: Host) -> None:
    assert Client().get(f"{DEVICE}/certificates").json() == {
        "certificates": [],
        "meta": {"has_next_results": False, "has_previous_results": False},
        "count": 0,
    }
    assert Client().get(f"{DEVICE}/certificates", {"order_key": "nope"}).status_code == 400


def test_debug_errors_are_logged_and_answered_empty(host: Host, caplog: pytest.LogCaptureFixture) -> None:
    report = {
        "error_source": "fleet-desktop",
        "error_source_version": "1.30.0",
        "error_timestamp": "2026-12-04T10:00:00Z",
        "error_message": "tray icon failed",
        "error_additional_info": {"os": "darwin"},
    }
    with caplog.at_level(logging.WARNING, logger="enrollment.agent.device"):
        response = Client().post(f"{DEVICE}/debug/errors", orjson.dumps(report), content_type="application/json")
    assert response.status_code == 200
    assert response.json() == {}
    assert "tray icon failed" in caplog.text
    bad = Client().post(f"{DEVICE}/debug/errors", b"{nope", content_type="application/json")
    assert bad.status_code == 400
    assert set(bad.json()) == {"message", "errors"}


def test_read_only_routes_refuse_post(host: Host) -> None:
    assert Client().post(f"{DEVICE}/policies").status_code == 405
