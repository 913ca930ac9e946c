"""Per-host routes: search, health, manual labels, software, certificates, macadmins, MDM refusals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Team, User
from conftest import APIClient
from hosts.api.host_extras import MDM_NOT_CONFIGURED
from hosts.models import Host, HostSoftware, Label, LabelMembership, Software
from queries.models import Policy, PolicyMembership

pytestmark = pytest.mark.django_db

BASE = "/api/latest/fleet"


def make_host(name: str, team: Team | None = None, **fields: Any) -> Host:
    return Host.objects.create(osquery_host_id=name, hostname=name, team=team, **fields)


# --- POST /hosts/search -------------------------------------------------------------------------


def test_search_matches_name_serial_and_ip_and_leaves_out_selected_hosts(api: APIClient) -> None:
    web = make_host("web-1", hardware_serial="SER123", primary_ip="10.0.0.5")
    make_host("web-2")
    make_host("db-1", primary_ip="10.0.0.9")
    response = api.post(f"{BASE}/hosts/search", {"query": "web"})
    assert response.status_code == 200, response.content
    assert [h["hostname"] for h in response.json()["hosts"]] == ["web-1", "web-2"]
    assert {"id", "hostname", "status", "display_text"} <= set(response.json()["hosts"][0])
    found = api.post(f"{BASE}/hosts/search", {"query": "SER1", "excluded_host_ids": []}).json()["hosts"]
    assert [h["id"] for h in found] == [web.pk]
    assert [h["hostname"] for h in api.post(f"{BASE}/hosts/search", {"query": "10.0.0"}).json()["hosts"]] == [
        "db-1",
        "web-1",
    ]
    excluded = api.post(f"{BASE}/hosts/search", {"query": "web", "excluded_host_ids": [web.pk]}).json()["hosts"]
    assert [h["hostname"] for h in excluded] == ["web-2"]
    selected = api.post(f"{BASE}/hosts/search", {"query": "web", "selected_host_ids": [web.pk]}).json()["hosts"]
    assert [h["hostname"] for h in selected] == ["web-2"]


def test_search_without_text_lists_recently_seen_hosts_up_to_ten(api: APIClient) -> None:
    now = timezone.now()
    for n in range(12):
        make_host(f"h{n:02}", seen_time=now - timedelta(minutes=n))
    hosts = api.post(f"{BASE}/hosts/search", {}).json()["hosts"]
    assert [h["hostname"] for h in hosts] == [f"h{n:02}" for n in range(10)]


def test_search_sees_only_the_callers_teams(
    api_client_as: Callable[[User | None], APIClient], observer: User, team: Team, other_team: Team
) -> None:
    make_host("mine-1", team=team)
    make_host("theirs-1", team=other_team)
    make_host("nobodys-1")
    hosts = api_client_as(observer).post(f"{BASE}/hosts/search", {"query": "1"}).json()["hosts"]
    assert [h["hostname"] for h in hosts] == ["mine-1"]
    assert api_client_as(None).post(f"{BASE}/hosts/search", {"query": "1"}).status_code == 401


def test_search_rejects_bad_ids(api: APIClient) -> None:
    response = api.post(f"{BASE}/hosts/search", {"excluded_host_ids": ["x"]})
    assert response.status_code == 422


# --- GET /hosts/{id}/health ---------------------------------------------------------------------


def test_health_lists_failing_policies_of_the_hosts_team_and_global_ones(api: APIClient, team: Team) -> None:
    host = make_host("h", team=team, os_version="macOS 14.1", disk_encryption_enabled=True)
    failing = Policy.objects.create(name="Firewall", query="SELECT 1", resolution="Turn it on")
    passing = Policy.objects.create(name="Disk", query="SELECT 1", team=team)
    old_team = Team.objects.create(name="Old")
    stale = Policy.objects.create(name="Old team's", query="SELECT 1", team=old_team)
    for policy, passes in ((failing, False), (passing, True), (stale, False)):
        PolicyMembership.objects.create(policy=policy, host=host, passes=passes)
    response = api.get(f"{BASE}/hosts/{host.pk}/health")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["host_id"] == host.pk
    health = body["health"]
    assert health["os_version"] == "macOS 14.1"
    assert health["disk_encryption_enabled"] is True
    assert health["failing_policies_count"] == 1
    assert health["failing_policies"] == [{"id": failing.pk, "name": "Firewall", "resolution": "Turn it on"}]
    assert health["vulnerable_software"] == []
    assert "team_id" not in health


def test_health_of_a_healthy_host_has_empty_lists(api: APIClient) -> None:
    host = make_host("h")
    health = api.get(f"{BASE}/hosts/{host.pk}/health").json()["health"]
    assert health["failing_policies_count"] == 0
    assert health["failing_policies"] == []
    assert health["vulnerable_software"] == []
    assert "disk_encryption_enabled" not in health  # unknown, as Fleet leaves it out


def test_health_of_another_teams_host_is_404(
    api_client_as: Callable[[User | None], APIClient], outsider: User, team: Team
) -> None:
    host = make_host("h", team=team)
    assert api_client_as(outsider).get(f"{BASE}/hosts/{host.pk}/health").status_code == 404
    assert api_client_as(None).get(f"{BASE}/hosts/{host.pk}/health").status_code == 401


# --- POST / DELETE /hosts/{id}/labels -----------------------------------------------------------


def test_add_and_remove_manual_labels_by_name(api: APIClient) -> None:
    host = make_host("h")
    pilot = Label.objects.create(name="Pilot", label_membership_type="manual")
    canary = Label.objects.create(name="Canary", label_membership_type="manual")
    response = api.post(f"{BASE}/hosts/{host.pk}/labels", {"labels": ["Pilot", "Canary", "Pilot", ""]})
    assert response.status_code == 200, response.content
    assert response.json() == {}
    assert set(LabelMembership.objects.filter(host=host).values_list("label_id", flat=True)) == {pilot.pk, canary.pk}
    assert api.post(f"{BASE}/hosts/{host.pk}/labels", {"labels": ["Pilot"]}).status_code == 200  # already in
    response = api.delete(f"{BASE}/hosts/{host.pk}/labels", {"labels": ["Pilot"]})
    assert response.status_code == 200, response.content
    assert list(LabelMembership.objects.filter(host=host).values_list("label_id", flat=True)) == [canary.pk]


def test_unknown_and_dynamic_labels_are_refused_with_fleets_messages(api: APIClient) -> None:
    host = make_host("h")
    Label.objects.create(name="Pilot", label_membership_type="manual")
    Label.objects.create(name="Macs", query="SELECT 1", label_membership_type="dynamic")
    assert Label.objects.filter(name="All Hosts", label_type="builtin").exists()  # created by a migration
    missing = api.post(f"{BASE}/hosts/{host.pk}/labels", {"labels": ["Pilot", "Nope", "Absent"]})
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["reason"] == (
        'Couldn\'t add labels. Labels not found: "Absent", "Nope". All labels must exist.'
    )
    dynamic = api.delete(f"{BASE}/hosts/{host.pk}/labels", {"labels": ["Pilot", "Macs", "All Hosts"]})
    assert dynamic.status_code == 400
    assert dynamic.json()["errors"][0]["reason"] == (
        'Couldn\'t remove labels. Labels are dynamic: "All Hosts", "Macs". '
        "Dynamic labels can not be assigned to hosts manually."
    )
    assert not LabelMembership.objects.filter(host=host).exists()


def test_label_changes_need_a_write_role_on_the_hosts_team(
    api_client_as: Callable[[User | None], APIClient], observer: User, maintainer: User, outsider: User, team: Team
) -> None:
    host = make_host("h", team=team)
    Label.objects.create(name="Pilot", label_membership_type="manual")
    body = {"labels": ["Pilot"]}
    assert api_client_as(observer).post(f"{BASE}/hosts/{host.pk}/labels", body).status_code == 403
    assert api_client_as(outsider).post(f"{BASE}/hosts/{host.pk}/labels", body).status_code == 404
    assert api_client_as(maintainer).post(f"{BASE}/hosts/{host.pk}/labels", body).status_code == 200


def test_another_teams_label_does_not_exist_for_this_host(api: APIClient, team: Team, other_team: Team) -> None:
    host = make_host("h", team=team)
    Label.objects.create(name="B only", label_membership_type="manual", team=other_team)
    assert api.post(f"{BASE}/hosts/{host.pk}/labels", {"labels": ["B only"]}).status_code == 400


# --- GET /hosts/{id}/software, certificates, macadmins ------------------------------------------


def test_host_software_is_paged_by_name_in_fleets_shape(api: APIClient) -> None:
    host = make_host("h")
    other = make_host("other")
    for name in ("zsh", "curl", "bash"):
        software = Software.objects.create(name=name, version="1.0", source="deb_packages", checksum=name)
        HostSoftware.objects.create(host=host, software=software)
    lonely = Software.objects.create(name="vim", version="9", source="deb_packages", checksum="vim")
    HostSoftware.objects.create(host=other, software=lonely)
    first = api.get(f"{BASE}/hosts/{host.pk}/software", {"per_page": 2})
    assert first.status_code == 200, first.content
    body = first.json()
    assert [s["name"] for s in body["software"]] == ["bash", "curl"]
    assert body["count"] == 3
    assert body["meta"] == {"has_next_results": True, "has_previous_results": False}
    assert body["software"][0]["installed_versions"][0]["version"] == "1.0"
    assert {"id", "name", "source", "status", "software_package", "app_store_app"} <= set(body["software"][0])
    second = api.get(f"{BASE}/hosts/{host.pk}/software", {"per_page": 2, "page": 1}).json()
    assert [s["name"] for s in second["software"]] == ["zsh"]
    assert second["count"] == 3
    desc = api.get(f"{BASE}/hosts/{host.pk}/software", {"order_direction": "desc"}).json()
    assert [s["name"] for s in desc["software"]] == ["zsh", "curl", "bash"]
    assert api.get(f"{BASE}/hosts/{host.pk}/software", {"vulnerable": "true"}).json()["software"] == []


def test_empty_shapes_for_certificates_and_macadmins(api: APIClient) -> None:
    host = make_host("h")
    certificates = api.get(f"{BASE}/hosts/{host.pk}/certificates")
    assert certificates.status_code == 200
    assert certificates.json() == {
        "certificates": [],
        "meta": {"has_next_results": False, "has_previous_results": False},
        "count": 0,
    }
    assert api.get(f"{BASE}/hosts/{host.pk}/macadmins").json() == {"macadmins": None}
    aggregate = api.get(f"{BASE}/macadmins")
    assert aggregate.status_code == 200
    data = aggregate.json()["macadmins"]
    assert data["munki_versions"] == [] and data["mobile_device_management_solution"] == []
    assert data["mobile_device_management_enrollment_status"]["hosts_count"] == 0


def test_per_host_reads_hide_other_teams_hosts(
    api_client_as: Callable[[User | None], APIClient], outsider: User, team: Team
) -> None:
    host = make_host("h", team=team)
    client = api_client_as(outsider)
    for suffix in ("software", "certificates", "macadmins", "mdm"):
        assert client.get(f"{BASE}/hosts/{host.pk}/{suffix}").status_code == 404, suffix
    assert api_client_as(None).get(f"{BASE}/macadmins").status_code == 401


# --- MDM is not available -----------------------------------------------------------------------


def test_mdm_routes_answer_fleets_mdm_not_configured_error(api: APIClient) -> None:
    host = make_host("h")
    for path in (f"{BASE}/hosts/summary/mdm", f"{BASE}/hosts/{host.pk}/mdm"):
        response = api.get(path)
        assert response.status_code == 400, path
        assert response.json()["errors"][0]["reason"] == MDM_NOT_CONFIGURED
    assert api.get(f"{BASE}/hosts/999999/mdm").status_code == 404
