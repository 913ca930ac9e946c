"""My Device self-service: the host's user installs and uninstalls self-service packages only."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from fleetsite.lib.tokens import digest
from hosts.models import Host
from scripts.models import ScriptExecution
from software_installers.models import SoftwareInstall
from software_installers.tests.conftest import BASE, ORBIT, make_deb, upload

pytestmark = pytest.mark.django_db

TOKEN = "device-token-1234"
DEVICE = f"{BASE}/device/{TOKEN}"
PNG = b"\x89PNG\r\n\x1a\n" + b"\1" * 16


@pytest.fixture
def device(orbit_host):
    Host.objects.filter(pk=orbit_host.host.pk).update(
        device_token_digest=digest(TOKEN), device_token_updated_at=timezone.now()
    )
    return Client()


def add(api, team, self_service):
    fields = {"self_service": "true"} if self_service else {}
    response = upload(api, f"{BASE}/software/package", "hello.deb", make_deb(), team_id=team.pk, **fields)
    assert response.status_code == 200, response.content
    return response.json()["software_package"]["title_id"]


def test_self_service_install_round_trip(api, agent, device, orbit_host, team):
    title_id = add(api, team, self_service=True)
    response = device.post(f"{DEVICE}/software/install/{title_id}")
    assert response.status_code == 202, response.content
    run = SoftwareInstall.objects.get()
    assert run.self_service is True and run.user is None
    assert agent.json(f"{ORBIT}/config", {"orbit_node_key": orbit_host.key})["notifications"] == {
        "pending_software_installer_ids": [run.install_uuid]
    }
    agent.post(
        f"{ORBIT}/software_install/result",
        {"orbit_node_key": orbit_host.key, "install_uuid": run.install_uuid, "install_script_exit_code": 0},
    )
    results = device.get(f"{DEVICE}/software/install/{run.install_uuid}/results").json()["results"]
    assert results["status"] == "installed" and results["self_service"] is True


def test_not_self_service_is_refused(api, device, team):
    title_id = add(api, team, self_service=False)
    response = device.post(f"{DEVICE}/software/install/{title_id}")
    assert response.status_code == 400
    assert not SoftwareInstall.objects.exists()
    assert device.post(f"{DEVICE}/software/uninstall/{title_id}").status_code == 400


def test_self_service_uninstall_and_its_result(api, agent, device, orbit_host, team):
    title_id = add(api, team, self_service=True)
    assert device.post(f"{DEVICE}/software/uninstall/{title_id}").status_code == 202
    execution = ScriptExecution.objects.get()
    agent.json(
        f"{ORBIT}/scripts/result",
        {"orbit_node_key": orbit_host.key, "execution_id": execution.execution_id, "output": "removed", "exit_code": 0},
    )
    results = device.get(f"{DEVICE}/software/uninstall/{execution.execution_id}/results").json()["results"]
    assert results["exit_code"] == 0 and results["output"] == "removed"


def test_another_hosts_results_are_404(api, device, orbit_host, team, agent, team_secret):
    from scripts.tests.conftest import orbit_enroll

    other = orbit_enroll(agent, team_secret, hardware_uuid="OTHER-UUID", hardware_serial="OTHER")
    title_id = add(api, team, self_service=True)
    api.post(f"{BASE}/hosts/{other.host.pk}/software/{title_id}/install")
    run = SoftwareInstall.objects.get()
    assert device.get(f"{DEVICE}/software/install/{run.install_uuid}/results").status_code == 404


def test_icon_for_self_service_titles(api, device, team):
    title_id = add(api, team, self_service=True)
    assert device.get(f"{DEVICE}/software/titles/{title_id}/icon").status_code == 404
    upload(
        api,
        f"{BASE}/software/titles/{title_id}/icon",
        None,
        None,
        method="put",
        team_id=team.pk,
        icon=SimpleUploadedFile("i.png", PNG),
    )
    icon = device.get(f"{DEVICE}/software/titles/{title_id}/icon")
    assert icon.status_code == 200 and icon.content == PNG


def test_bad_token_is_401(api, device, team):
    title_id = add(api, team, self_service=True)
    assert Client().post(f"{BASE}/device/wrong/software/install/{title_id}").status_code == 401


def test_self_service_tab_lists_offered_packages_with_status(api, device, orbit_host, team):
    title_id = add(api, team, self_service=True)
    body = device.get(f"{DEVICE}/software", {"self_service": "true"}).json()
    assert body["count"] == 1
    entry = body["software"][0]
    assert entry["id"] == title_id and entry["status"] is None
    assert entry["software_package"]["icon_url"] == f"{DEVICE}/software/titles/{title_id}/icon"
    device.post(f"{DEVICE}/software/install/{title_id}")
    entry = device.get(f"{DEVICE}/software", {"self_service": "true"}).json()["software"][0]
    assert entry["status"] == "pending_install"
