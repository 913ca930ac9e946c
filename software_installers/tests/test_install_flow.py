"""Upload → install on a host → fleetd sees it → details → package bytes → result → status; and failures."""

from __future__ import annotations

import pytest

from activities.models import Activity
from hosts.models import Host
from scripts.models import ScriptExecution
from software_installers.models import SoftwareInstall, SoftwareInstaller
from software_installers.tests.conftest import BASE, ORBIT, make_deb, upload

pytestmark = pytest.mark.django_db


def add_deb(api, team, **fields):
    response = upload(api, f"{BASE}/software/package", "hello_2.10-3_amd64.deb", make_deb(), team_id=team.pk, **fields)
    assert response.status_code == 200, response.content
    return response.json()["software_package"]


def install(api, host, title_id, expect=202):
    response = api.post(f"{BASE}/hosts/{host.pk}/software/{title_id}/install")
    assert response.status_code == expect, response.content
    return response


def config(agent, orbit_host):
    return agent.json(f"{ORBIT}/config", {"orbit_node_key": orbit_host.key})["notifications"]


def test_upload_reads_the_deb_and_offers_the_title(api, team):
    package = add_deb(api, team, pre_install_query="SELECT 1;", self_service="true")
    assert package["name"] == "hello_2.10-3_amd64.deb"
    assert package["version"] == "2.10-3"
    assert package["platform"] == "linux"
    assert package["team_id"] == team.pk
    assert package["self_service"] is True
    assert "apt-get install" in package["install_script"]
    assert "apt-get remove" in package["uninstall_script"]
    installer = SoftwareInstaller.objects.get()
    assert installer.title.name == "hello" and installer.title.source == "deb_packages"
    assert package["title_id"] == installer.title_id
    assert Activity.objects.filter(type="added_software").exists()
    download = api.get(f"{BASE}/software/titles/{package['title_id']}/package", {"alt": "media", "team_id": team.pk})
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == make_deb()
    assert "hello_2.10-3_amd64.deb" in download["Content-Disposition"]


def test_round_trip_to_installed(api, agent, orbit_host, team):
    title_id = add_deb(api, team)["title_id"]
    install(api, orbit_host.host, title_id)
    run = SoftwareInstall.objects.get()
    assert config(agent, orbit_host) == {"pending_software_installer_ids": [run.install_uuid]}

    details = agent.json(
        f"{ORBIT}/software_install/details", {"orbit_node_key": orbit_host.key, "install_uuid": run.install_uuid}
    )
    assert details["install_id"] == run.install_uuid
    assert "apt-get install" in details["install_script"]
    assert details["uninstall_script"].endswith("apt-get remove --assume-yes hello\n")

    package = agent.post(
        f"{ORBIT}/software_install/package",
        {"orbit_node_key": orbit_host.key, "installer_id": details["installer_id"]},
    )
    assert package.status_code == 200
    assert b"".join(package.streaming_content) == make_deb()

    result = {
        "orbit_node_key": orbit_host.key,
        "install_uuid": run.install_uuid,
        "install_script_exit_code": 0,
        "install_script_output": "Setting up hello",
    }
    assert agent.post(f"{ORBIT}/software_install/result", result).status_code == 204
    assert config(agent, orbit_host) == {}

    body = api.get(f"{BASE}/software/install/{run.install_uuid}/results").json()["results"]
    assert body["status"] == "installed"
    assert body["output"] == "Installing software...\nSuccess\nSetting up hello"
    assert body["software_title_id"] == title_id
    assert body["host_id"] == orbit_host.host.pk
    activity = Activity.objects.get(type="installed_software")
    assert activity.details["status"] == "installed"
    assert activity.host_id == orbit_host.host.pk


@pytest.mark.parametrize(
    ("result", "output"),
    [
        ({"pre_install_condition_output": ""}, None),
        ({"pre_install_condition_output": "1", "install_script_exit_code": 1, "install_script_output": "E: x"}, None),
        ({"install_script_exit_code": 0, "install_script_output": "", "post_install_script_exit_code": 2}, None),
    ],
)
def test_failures_are_failed_install(api, agent, orbit_host, team, result, output):
    title_id = add_deb(api, team, pre_install_query="SELECT 1;")["title_id"]
    install(api, orbit_host.host, title_id)
    run = SoftwareInstall.objects.get()
    agent.post(
        f"{ORBIT}/software_install/result",
        {"orbit_node_key": orbit_host.key, "install_uuid": run.install_uuid, **result},
    )
    body = api.get(f"{BASE}/software/install/{run.install_uuid}/results").json()["results"]
    assert body["status"] == "failed_install"
    if "pre_install_condition_output" in result and result["pre_install_condition_output"] == "":
        assert body["pre_install_query_output"] == "Query didn't return result or failed\nInstall stopped"


def test_a_repeated_result_is_ignored(api, agent, orbit_host, team):
    install(api, orbit_host.host, add_deb(api, team)["title_id"])
    run = SoftwareInstall.objects.get()
    body = {"orbit_node_key": orbit_host.key, "install_uuid": run.install_uuid, "install_script_output": ""}
    agent.post(f"{ORBIT}/software_install/result", {**body, "install_script_exit_code": 1})
    agent.post(f"{ORBIT}/software_install/result", {**body, "install_script_exit_code": 0})
    run.refresh_from_db()
    assert run.status == "failed_install"
    assert Activity.objects.filter(type="installed_software").count() == 1


def test_installs_and_scripts_share_one_queue_in_order(api, agent, orbit_host, team):
    title_id = add_deb(api, team)["title_id"]
    script = api.post(f"{BASE}/scripts/run", {"host_id": orbit_host.host.pk, "script_contents": "echo 1"}).json()
    install(api, orbit_host.host, title_id)
    assert config(agent, orbit_host) == {"pending_script_execution_ids": [script["execution_id"]]}
    agent.json(
        f"{ORBIT}/scripts/result",
        {"orbit_node_key": orbit_host.key, "execution_id": script["execution_id"], "output": "", "exit_code": 0},
    )
    assert config(agent, orbit_host) == {"pending_software_installer_ids": [SoftwareInstall.objects.get().install_uuid]}


def test_a_second_install_while_pending_is_refused(api, orbit_host, team):
    title_id = add_deb(api, team)["title_id"]
    install(api, orbit_host.host, title_id)
    assert (
        install(api, orbit_host.host, title_id, expect=400).json()["errors"][0]["reason"].startswith("Couldn't install")
    )


def test_uninstall_runs_the_uninstall_script_through_scripts(api, agent, orbit_host, team):
    title_id = add_deb(api, team)["title_id"]
    response = api.post(f"{BASE}/hosts/{orbit_host.host.pk}/software/{title_id}/uninstall")
    assert response.status_code == 202, response.content
    execution = ScriptExecution.objects.get()
    assert execution.contents.endswith("apt-get remove --assume-yes hello\n")
    assert config(agent, orbit_host) == {"pending_script_execution_ids": [execution.execution_id]}
    from software_installers.service import host_status

    assert host_status(orbit_host.host.pk, title_id) == "pending_uninstall"
    agent.json(
        f"{ORBIT}/scripts/result",
        {"orbit_node_key": orbit_host.key, "execution_id": execution.execution_id, "output": "", "exit_code": 1},
    )
    assert host_status(orbit_host.host.pk, title_id) == "failed_uninstall"
    activity = Activity.objects.get(type="uninstalled_software")
    assert activity.details["status"] == "failed_uninstall"
    assert not Activity.objects.filter(type="ran_script").exists()


def test_install_without_a_package_for_the_hosts_team_is_400(api, orbit_host, other_team):
    title_id = add_deb(api, other_team)["title_id"]
    response = install(api, orbit_host.host, title_id, expect=400)
    assert response.json()["errors"][0]["reason"] == (
        "Software title has no package added. Please add software package to install."
    )


def test_linux_package_on_a_mac_is_400(api, orbit_host, team):
    title_id = add_deb(api, team)["title_id"]
    Host.objects.filter(pk=orbit_host.host.pk).update(platform="darwin")
    assert "linux" in install(api, orbit_host.host, title_id, expect=400).json()["errors"][0]["reason"]


def test_another_hosts_install_is_404_to_fleetd(api, agent, orbit_host, team, team_secret):
    from scripts.tests.conftest import orbit_enroll

    other = orbit_enroll(agent, team_secret, hardware_uuid="OTHER-UUID", hardware_serial="OTHER")
    install(api, orbit_host.host, add_deb(api, team)["title_id"])
    run = SoftwareInstall.objects.get()
    body = {"orbit_node_key": other.key, "install_uuid": run.install_uuid}
    assert agent.post(f"{ORBIT}/software_install/details", body).status_code == 404
    assert agent.post(f"{ORBIT}/software_install/result", {**body, "install_script_exit_code": 0}).status_code == 404
    package = {"orbit_node_key": other.key, "installer_id": run.installer_id}
    assert agent.post(f"{ORBIT}/software_install/package", package).status_code == 404
    run.refresh_from_db()
    assert run.status == "pending_install"


def test_unknown_orbit_key_is_401(agent, orbit_host):
    response = agent.post(f"{ORBIT}/software_install/details", {"orbit_node_key": "nope", "install_uuid": "x"})
    assert response.status_code == 401


@pytest.mark.parametrize("body", [{"install_uuid": 5}, {"install_uuid": "x", "install_script_exit_code": "0"}, {}])
def test_bad_result_bodies_are_400(agent, orbit_host, body):
    response = agent.post(f"{ORBIT}/software_install/result", {"orbit_node_key": orbit_host.key, **body})
    assert response.status_code == 400


def test_orbit_requests_cost_constant_queries(api, agent, orbit_host, team, django_assert_max_num_queries):
    install(api, orbit_host.host, add_deb(api, team)["title_id"])
    run = SoftwareInstall.objects.get()
    key = {"orbit_node_key": orbit_host.key}
    config(agent, orbit_host)  # warm caches
    with django_assert_max_num_queries(4):
        config(agent, orbit_host)
    with django_assert_max_num_queries(2):
        agent.json(f"{ORBIT}/software_install/details", {**key, "install_uuid": run.install_uuid})
    with django_assert_max_num_queries(2):
        agent.post(f"{ORBIT}/software_install/package", {**key, "installer_id": run.installer_id})


def test_upcoming_lists_scripts_installs_and_uninstalls_in_order_and_cancels(api, orbit_host, team):
    title_id = add_deb(api, team)["title_id"]
    host = orbit_host.host
    script = api.post(f"{BASE}/scripts/run", {"host_id": host.pk, "script_contents": "echo 1"}).json()
    install(api, host, title_id)
    upcoming = api.get(f"{BASE}/hosts/{host.pk}/activities/upcoming").json()
    assert upcoming["count"] == 2
    assert [a["type"] for a in upcoming["activities"]] == ["ran_script", "installed_software"]
    assert upcoming["activities"][0]["uuid"] == script["execution_id"]
    install_uuid = upcoming["activities"][1]["uuid"]
    assert upcoming["activities"][1]["details"]["status"] == "pending_install"

    assert api.delete(f"{BASE}/hosts/{host.pk}/activities/upcoming/{install_uuid}").status_code == 204
    assert SoftwareInstall.objects.get(install_uuid=install_uuid).canceled is True
    assert Activity.objects.filter(type="canceled_install_software").exists()

    assert api.post(f"{BASE}/hosts/{host.pk}/software/{title_id}/uninstall").status_code == 202
    upcoming = api.get(f"{BASE}/hosts/{host.pk}/activities/upcoming", {"per_page": 1, "page": 1}).json()
    assert upcoming["count"] == 2
    assert [a["type"] for a in upcoming["activities"]] == ["uninstalled_software"]
    uninstall_id = upcoming["activities"][0]["uuid"]
    assert api.delete(f"{BASE}/hosts/{host.pk}/activities/upcoming/{uninstall_id}").status_code == 204
    from software_installers.service import host_status

    assert host_status(host.pk, title_id) is None


def test_status_summary_counts_each_hosts_latest_run(api, agent, orbit_host, team):
    title_id = add_deb(api, team)["title_id"]
    install(api, orbit_host.host, title_id)
    run = SoftwareInstall.objects.get()

    def summary():
        detail = api.get(f"{BASE}/software/titles/{title_id}", {"team_id": team.pk}).json()["software_title"]
        return detail["software_package"]["status"]

    assert summary()["pending_install"] == 1
    agent.post(
        f"{ORBIT}/software_install/result",
        {"orbit_node_key": orbit_host.key, "install_uuid": run.install_uuid, "install_script_exit_code": 0},
    )
    assert summary() == {
        "installed": 1,
        "pending_install": 0,
        "failed_install": 0,
        "pending_uninstall": 0,
        "failed_uninstall": 0,
    }
    api.post(f"{BASE}/hosts/{orbit_host.host.pk}/software/{title_id}/uninstall")
    assert summary()["pending_uninstall"] == 1 and summary()["installed"] == 0
