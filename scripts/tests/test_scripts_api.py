"""REST: running scripts, results, saved scripts, a host's scripts and upcoming queue, permissions."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from activities.models import Activity
from hosts.models import Host
from scripts import service
from scripts.models import Script, ScriptExecution
from scripts.tests.conftest import BASE, ORBIT, upload

pytestmark = pytest.mark.django_db


def errors(response):
    body = response.json()
    assert set(body) == {"message", "errors"}
    return body["errors"][0]


# --- Running ----------------------------------------------------------------------------------


def test_run_answers_202_with_the_execution_id(api, orbit_host):
    response = api.post(f"{BASE}/scripts/run", {"host_id": orbit_host.host.pk, "script_contents": "echo hi"})
    assert response.status_code == 202
    body = response.json()
    assert body["host_id"] == orbit_host.host.pk
    assert ScriptExecution.objects.get(execution_id=body["execution_id"]).sync_request is False
    result = api.get(f"{BASE}/scripts/results/{body['execution_id']}").json()
    assert result["exit_code"] is None
    assert result["message"] == "Script is running or will run when the host comes online."


@pytest.mark.parametrize(
    ("body", "name", "reason"),
    [
        ({}, "script", "One of 'script_id', 'script_contents', or 'script_name' is required."),
        ({"script_contents": "a", "script_name": "b.sh"}, "script_contents", "Only one of 'script_contents'"),
        ({"script_contents": "#!/usr/bin/perl\n"}, "script_contents", "Interpreter not supported."),
        ({"script_contents": "x" * 10_001}, "script_contents", "Script is too large. It's limited to 10,000"),
        ({"script_contents": "echo \x00"}, "script_contents", "Wrong data format. Only plain text allowed."),
    ],
)
def test_bad_run_requests_are_422_with_fleets_messages(api, orbit_host, body, name, reason):
    response = api.post(f"{BASE}/scripts/run", {"host_id": orbit_host.host.pk, **body})
    assert response.status_code == 422
    error = errors(response)
    assert error["name"] == name
    assert error["reason"].startswith(reason)


def test_run_needs_fleetd_with_scripts_enabled(api, orbit_host):
    plain = Host.objects.create(osquery_host_id="plain", hostname="plain", platform="ubuntu")
    response = api.post(f"{BASE}/scripts/run", {"host_id": plain.pk, "script_contents": "echo"})
    assert response.status_code == 422
    assert response.json()["message"].startswith("Scripts are disabled for this host.")
    Host.objects.filter(pk=orbit_host.host.pk).update(scripts_enabled=False)
    response = api.post(f"{BASE}/scripts/run", {"host_id": orbit_host.host.pk, "script_contents": "echo"})
    assert response.status_code == 422
    assert "--enable-scripts" in response.json()["message"]


def test_scripts_disabled_in_config_is_403_with_fleets_message(api, orbit_host):
    assert api.patch(f"{BASE}/config", {"server_settings": {"scripts_disabled": True}}).status_code == 200
    assert api.get(f"{BASE}/config").json()["server_settings"]["scripts_disabled"] is True
    response = api.post(f"{BASE}/scripts/run", {"host_id": orbit_host.host.pk, "script_contents": "echo"})
    assert response.status_code == 403
    assert response.json()["message"] == "Running scripts is disabled in organization settings."


def test_unknown_host_is_404(api, orbit_host):
    assert api.post(f"{BASE}/scripts/run", {"host_id": 987654, "script_contents": "echo"}).status_code == 404


def test_run_by_id_checks_team_and_platform(api, agent, orbit_host, team, other_team):
    windows = Script.objects.create(team=team, name="fix.ps1", contents="Write-Host hi")
    elsewhere = Script.objects.create(team=other_team, name="fix.sh", contents="echo")
    mine = Script.objects.create(team=team, name="fix.sh", contents="echo mine")
    host_id = orbit_host.host.pk
    response = api.post(f"{BASE}/scripts/run", {"host_id": host_id, "script_id": windows.pk})
    assert (response.status_code, errors(response)["name"]) == (422, "script_id")
    response = api.post(f"{BASE}/scripts/run", {"host_id": host_id, "script_id": elsewhere.pk})
    assert errors(response)["reason"] == "The script does not belong to the same team (or no team) as the host."
    assert api.post(f"{BASE}/scripts/run", {"host_id": host_id, "script_id": 424242}).status_code == 404
    first = api.post(f"{BASE}/scripts/run", {"host_id": host_id, "script_id": mine.pk})
    assert first.status_code == 202
    again = api.post(f"{BASE}/scripts/run", {"host_id": host_id, "script_id": mine.pk})
    assert again.status_code == 409
    assert errors(again)["reason"] == "The script is already queued on the given host."
    by_name = api.post(f"{BASE}/scripts/run", {"host_id": host_id, "script_name": "nope.sh", "team_id": team.pk})
    assert by_name.status_code == 422
    fetched = agent.json(
        f"{ORBIT}/scripts/request", {"orbit_node_key": orbit_host.key, "execution_id": first.json()["execution_id"]}
    )
    assert fetched["script_contents"] == "echo mine"
    assert fetched["script_id"] == mine.pk


# --- Sync runs ----------------------------------------------------------------------------------


def test_sync_run_returns_the_agents_answer(api, agent, orbit_host, settings, monkeypatch):
    settings.FLEETSITE_SCRIPT_SYNC_WAIT = 5
    settings.FLEETSITE_SCRIPT_SYNC_POLL = 0.01

    def agent_answers(_seconds):
        execution = ScriptExecution.objects.get()
        agent.json(
            f"{ORBIT}/scripts/result",
            {"orbit_node_key": orbit_host.key, "execution_id": execution.execution_id, "output": "ok", "exit_code": 0},
        )

    monkeypatch.setattr(service, "_sleep", agent_answers)
    response = api.post(f"{BASE}/scripts/run/sync", {"host_id": orbit_host.host.pk, "script_contents": "echo ok"})
    assert response.status_code == 200
    body = response.json()
    assert (body["output"], body["exit_code"], body["host_timeout"]) == ("ok", 0, False)
    assert body["hostname"] == "web-01"


def test_sync_run_times_out_with_408_and_fleets_message(api, orbit_host, settings):
    settings.FLEETSITE_SCRIPT_SYNC_WAIT = 0.05
    settings.FLEETSITE_SCRIPT_SYNC_POLL = 0.01
    response = api.post(f"{BASE}/scripts/run/sync", {"host_id": orbit_host.host.pk, "script_contents": "sleep 9"})
    assert response.status_code == 408
    body = response.json()
    assert body["host_timeout"] is True
    assert body["message"].startswith("Fleet didn't hear back from the host in under 5 minutes")
    # Read later, the stale synchronous run still says it timed out (Fleet's check on read).
    ScriptExecution.objects.update(created_at=timezone.now() - timedelta(minutes=10))
    later = api.get(f"{BASE}/scripts/results/{body['execution_id']}").json()
    assert later["host_timeout"] is True


def test_sync_run_refuses_offline_hosts_and_busy_ones(api, orbit_host, settings):
    settings.FLEETSITE_SCRIPT_SYNC_WAIT = 0.01
    api.post(f"{BASE}/scripts/run", {"host_id": orbit_host.host.pk, "script_contents": "echo"})
    busy = api.post(f"{BASE}/scripts/run/sync", {"host_id": orbit_host.host.pk, "script_contents": "echo"})
    assert busy.status_code == 409
    Host.objects.filter(pk=orbit_host.host.pk).update(online_until=timezone.now() - timedelta(minutes=1))
    offline = api.post(f"{BASE}/scripts/run/sync", {"host_id": orbit_host.host.pk, "script_contents": "echo"})
    assert offline.status_code == 422
    assert errors(offline)["reason"] == "Script can't run on offline host."


# --- Saved scripts --------------------------------------------------------------------------------


def test_saved_script_crud(api, team):
    created = upload(api, f"{BASE}/scripts", "hello.sh", "#!/bin/bash\r\necho hi\r\n", team_id=team.pk)
    assert created.status_code == 200, created.content
    script_id = created.json()["script_id"]
    assert Script.objects.get().contents == "#!/bin/bash\necho hi\n"
    assert upload(api, f"{BASE}/scripts", "hello.sh", "echo", team_id=team.pk).status_code == 409

    listed = api.get(f"{BASE}/scripts", {"team_id": team.pk}).json()
    assert [s["name"] for s in listed["scripts"]] == ["hello.sh"]
    assert set(listed["scripts"][0]) == {"id", "team_id", "fleet_id", "name", "created_at", "updated_at"}
    assert listed["meta"] == {"has_next_results": False, "has_previous_results": False}
    assert api.get(f"{BASE}/scripts").json()["scripts"] == []  # no team
    assert api.get(f"{BASE}/scripts", {"fleet_id": team.pk}).json()["scripts"][0]["id"] == script_id

    detail = api.get(f"{BASE}/scripts/{script_id}")
    assert detail.json()["name"] == "hello.sh"
    download = api.get(f"{BASE}/scripts/{script_id}", {"alt": "media"})
    assert download.content == b"#!/bin/bash\necho hi\n"
    assert download["Content-Disposition"].endswith(' hello.sh"')

    patched = upload(api, f"{BASE}/scripts/{script_id}", "ignored.sh", "echo new", method="patch")
    assert patched.status_code == 200, patched.content
    assert Script.objects.get().contents == "echo new"
    assert api.delete(f"{BASE}/scripts/{script_id}").status_code == 204
    assert api.get(f"{BASE}/scripts/{script_id}").status_code == 404
    types = list(Activity.objects.order_by("id").values_list("type", flat=True))
    assert types == ["added_script", "updated_script", "deleted_script"]


@pytest.mark.parametrize(
    ("name", "contents", "reason"),
    [
        ("x.txt", "echo", "File type not supported. Only .sh, .py, and .ps1 file types are allowed."),
        ("x.py", "print(1)", "Python scripts must start with a python shebang"),
        ("x.ps1", "#!/bin/sh\necho", 'PowerShell scripts must not start with a shebang ("#!").'),
        ("x.sh", "#!/usr/bin/env python3\nprint(1)", "Shell scripts must use a shell shebang"),
        ("x.sh", b"\xff\xfe\x00binary", "Wrong data format. Only plain text allowed."),
        ("x.sh", "", "Script contents must not be empty."),
    ],
)
def test_uploads_are_validated_like_fleet(api, name, contents, reason):
    response = upload(api, f"{BASE}/scripts", name, contents)
    assert response.status_code == 422
    assert errors(response)["reason"].startswith(reason)


def test_upload_without_a_file_is_400(api):
    response = api.client.post(f"{BASE}/scripts", {"team_id": "1"}, headers=api.headers)
    assert response.status_code == 400
    assert errors(response)["reason"] == "no file headers for script"


def test_saved_scripts_allow_500k_characters(api):
    assert upload(api, f"{BASE}/scripts", "big.sh", "#" * 500_000).status_code == 200
    response = upload(api, f"{BASE}/scripts", "bigger.sh", "#" * 500_001)
    assert errors(response)["reason"].startswith("Script is too large. It's limited to 500,000")


def test_gitops_batch_set_replaces_the_teams_scripts(api, team):
    Script.objects.create(team=team, name="old.sh", contents="echo old")
    Script.objects.create(team=team, name="keep.sh", contents="echo keep")

    def encoded(text):
        return base64.b64encode(text.encode()).decode()

    body = {
        "scripts": [
            {"name": "keep.sh", "script_contents": encoded("echo changed")},
            {"name": "new.ps1", "script_contents": encoded("Write-Host")},
        ]
    }
    assert api.post(f"{BASE}/scripts/batch?team_id={team.pk}&dry_run=true", body).json() == {"scripts": []}
    assert Script.objects.filter(name="old.sh").exists()
    response = api.post(f"{BASE}/scripts/batch?team_name={team.name}", body)
    assert response.status_code == 200
    assert [s["name"] for s in response.json()["scripts"]] == ["keep.sh", "new.ps1"]
    assert Script.objects.get(name="keep.sh").contents == "echo changed"
    assert not Script.objects.filter(name="old.sh").exists()
    duplicate = {"scripts": [body["scripts"][0], body["scripts"][0]]}
    response = api.post(f"{BASE}/scripts/batch?team_id={team.pk}", duplicate)
    assert response.status_code == 422
    assert "More than one script has the same file name" in errors(response)["reason"]


# --- A host's scripts and queue -------------------------------------------------------------------


def test_host_scripts_list_the_platforms_scripts_with_last_execution(api, agent, orbit_host, team):
    sh = Script.objects.create(team=team, name="a.sh", contents="echo")
    Script.objects.create(team=team, name="b.ps1", contents="Write-Host")
    Script.objects.create(name="global.sh", contents="echo")
    api.post(f"{BASE}/scripts/run", {"host_id": orbit_host.host.pk, "script_id": sh.pk})
    body = api.get(f"{BASE}/hosts/{orbit_host.host.pk}/scripts").json()
    assert [s["name"] for s in body["scripts"]] == ["a.sh"]
    assert body["scripts"][0]["last_execution"]["status"] == "pending"
    assert "meta" in body


def test_upcoming_queue_and_cancel(api, orbit_host):
    ids = [
        api.post(f"{BASE}/scripts/run", {"host_id": orbit_host.host.pk, "script_contents": f"echo {n}"}).json()[
            "execution_id"
        ]
        for n in range(2)
    ]
    body = api.get(f"{BASE}/hosts/{orbit_host.host.pk}/activities/upcoming").json()
    assert body["count"] == 2
    assert [a["uuid"] for a in body["activities"]] == ids
    assert body["activities"][0]["type"] == "ran_script"
    assert api.delete(f"{BASE}/hosts/{orbit_host.host.pk}/activities/upcoming/{ids[0]}").status_code == 204
    assert api.delete(f"{BASE}/hosts/{orbit_host.host.pk}/activities/upcoming/{ids[0]}").status_code == 404
    assert [
        a["uuid"] for a in api.get(f"{BASE}/hosts/{orbit_host.host.pk}/activities/upcoming").json()["activities"]
    ] == ids[1:]
    assert Activity.objects.filter(type="canceled_run_script").count() == 1


# --- Permissions ------------------------------------------------------------------------------------


def test_observers_read_but_cannot_run_or_change(api_client_as, observer, orbit_host, team):
    script = Script.objects.create(team=team, name="a.sh", contents="echo")
    client = api_client_as(observer)
    assert client.get(f"{BASE}/scripts", {"team_id": team.pk}).status_code == 200
    assert client.get(f"{BASE}/scripts/{script.pk}").status_code == 200
    assert client.get(f"{BASE}/hosts/{orbit_host.host.pk}/scripts").status_code == 200
    run = client.post(f"{BASE}/scripts/run", {"host_id": orbit_host.host.pk, "script_contents": "echo"})
    assert run.status_code == 403
    assert upload(client, f"{BASE}/scripts", "b.sh", "echo", team_id=team.pk).status_code == 403
    assert client.delete(f"{BASE}/scripts/{script.pk}").status_code == 403


def test_maintainers_run_on_their_teams_hosts(api_client_as, maintainer, orbit_host, team):
    client = api_client_as(maintainer)
    response = client.post(f"{BASE}/scripts/run", {"host_id": orbit_host.host.pk, "script_contents": "echo"})
    assert response.status_code == 202
    assert upload(client, f"{BASE}/scripts", "b.sh", "echo", team_id=team.pk).status_code == 200
    # "No team" scripts belong to global roles only.
    assert upload(client, f"{BASE}/scripts", "c.sh", "echo").status_code == 403


def test_another_teams_user_sees_nothing(api_client_as, api, outsider, orbit_host, team):
    script = Script.objects.create(team=team, name="a.sh", contents="echo")
    execution_id = api.post(f"{BASE}/scripts/run", {"host_id": orbit_host.host.pk, "script_contents": "echo"}).json()[
        "execution_id"
    ]
    client = api_client_as(outsider)
    assert (
        client.post(f"{BASE}/scripts/run", {"host_id": orbit_host.host.pk, "script_contents": "x"}).status_code == 404
    )
    assert client.get(f"{BASE}/scripts/results/{execution_id}").status_code == 404
    assert client.get(f"{BASE}/scripts/{script.pk}").status_code == 404
    assert client.get(f"{BASE}/scripts", {"team_id": team.pk}).status_code == 404
    assert client.get(f"{BASE}/hosts/{orbit_host.host.pk}/activities/upcoming").status_code == 404
    assert client.delete(f"{BASE}/hosts/{orbit_host.host.pk}/activities/upcoming/{execution_id}").status_code == 404


def test_anonymous_is_401(api_client_as, db):
    assert api_client_as(None).get(f"{BASE}/scripts").status_code == 401


def test_overlong_file_names_are_422(api):
    body = {"scripts": [{"name": "a" * 300 + ".sh", "script_contents": base64.b64encode(b"echo").decode()}]}
    response = api.post(f"{BASE}/scripts/batch", body)
    assert response.status_code == 422
    assert errors(response)["name"] == "scripts[0]"
