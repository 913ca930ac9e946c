"""A host's software list: installed titles plus the team's packages, each with this host's install status."""

from __future__ import annotations

import pytest
from django.utils import timezone

from hosts.models import HostSoftware, Software
from software_installers.models import SoftwareInstall
from software_installers.tests.conftest import BASE, ORBIT, make_deb, make_rpm, upload

pytestmark = pytest.mark.django_db


def add(api, team, filename, raw, **fields):
    response = upload(api, f"{BASE}/software/package", filename, raw, team_id=team.pk, **fields)
    assert response.status_code == 200, response.content
    return response.json()["software_package"]["title_id"]


def installed(host, name, version, source="deb_packages"):
    software = Software.objects.create(name=name, version=version, source=source, checksum=f"{name}-{version}")
    HostSoftware.objects.create(host=host, software=software, last_opened_at=timezone.now())
    return software


def listing(api, host, **params):
    response = api.get(f"{BASE}/hosts/{host.pk}/software", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_installed_and_available_titles_with_status(api, agent, orbit_host, team):
    host = orbit_host.host
    installed(host, "curl", "8.0")
    hello = add(api, team, "hello.deb", make_deb(), self_service="true")
    htop = add(api, team, "htop.rpm", make_rpm())
    body = listing(api, host)
    assert body["count"] == 3
    by_name = {entry["name"]: entry for entry in body["software"]}
    assert [entry["name"] for entry in body["software"]] == ["curl", "hello", "htop"]
    assert by_name["curl"]["software_package"] is None and by_name["curl"]["installed_versions"][0]["version"] == "8.0"
    assert by_name["hello"]["id"] == hello and by_name["hello"]["installed_versions"] == []
    assert by_name["hello"]["software_package"]["self_service"] is True
    assert by_name["hello"]["status"] is None

    api.post(f"{BASE}/hosts/{host.pk}/software/{hello}/install")
    run = SoftwareInstall.objects.get()
    by_name = {entry["name"]: entry for entry in listing(api, host)["software"]}
    assert by_name["hello"]["status"] == "pending_install"
    agent.post(
        f"{ORBIT}/software_install/result",
        {"orbit_node_key": orbit_host.key, "install_uuid": run.install_uuid, "install_script_exit_code": 0},
    )
    by_name = {entry["name"]: entry for entry in listing(api, host)["software"]}
    assert by_name["hello"]["status"] == "installed"
    assert by_name["hello"]["software_package"]["last_install"]["install_uuid"] == run.install_uuid
    assert by_name["htop"]["id"] == htop and by_name["htop"]["status"] is None


def test_filters_and_paging(api, orbit_host, team):
    host = orbit_host.host
    installed(host, "curl", "8.0")
    installed(host, "hello", "2.9")  # installed, and the team offers a newer package
    add(api, team, "hello.deb", make_deb(), self_service="true")
    add(api, team, "htop.rpm", make_rpm())
    assert [e["name"] for e in listing(api, host, self_service="true")["software"]] == ["hello"]
    available = listing(api, host, available_for_install="true")
    assert [e["name"] for e in available["software"]] == ["hello", "htop"]
    assert available["software"][0]["installed_versions"][0]["version"] == "2.9"
    assert [e["name"] for e in listing(api, host, query="ht")["software"]] == ["htop"]
    page = listing(api, host, per_page=2, page=1)
    assert [e["name"] for e in page["software"]] == ["htop"] and page["count"] == 3
    assert page["meta"] == {"has_next_results": False, "has_previous_results": True}


def test_outsider_gets_404(api_client_as, outsider, orbit_host):
    assert api_client_as(outsider).get(f"{BASE}/hosts/{orbit_host.host.pk}/software").status_code == 404


def test_query_count_does_not_grow_with_the_page(api, orbit_host, team, django_assert_max_num_queries):
    host = orbit_host.host
    add(api, team, "hello.deb", make_deb())
    installed(host, "curl", "8.0")
    listing(api, host)
    with django_assert_max_num_queries(20) as captured:
        listing(api, host)
    small = len(captured.captured_queries)
    for index in range(5):
        installed(host, f"tool{index}", "1")
    add(api, team, "htop.rpm", make_rpm())
    with django_assert_max_num_queries(small):
        listing(api, host)
