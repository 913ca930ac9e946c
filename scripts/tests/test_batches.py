"""Batch runs: one saved script on many hosts, its summary, per-host results and cancel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from hosts.models import Host
from scripts import tasks
from scripts.models import BatchExecution, Script, ScriptExecution
from scripts.tests.conftest import BASE, ORBIT, orbit_enroll

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(agent, team_secret, team):
    """Two orbit Ubuntu hosts and a Windows one on team A, plus a team script."""
    hosts = [orbit_enroll(agent, team_secret, hardware_uuid=f"U{n}", hardware_serial=f"S{n}") for n in range(3)]
    Host.objects.filter(pk=hosts[2].host.pk).update(platform="windows")
    script = Script.objects.create(team=team, name="fix.sh", contents="echo fixed")
    return hosts, script


def test_batch_run_summary_and_host_results(api, agent, fleet):
    hosts, script = fleet
    response = api.post(f"{BASE}/scripts/run/batch", {"script_id": script.pk, "host_ids": [h.host.pk for h in hosts]})
    assert response.status_code == 200, response.content
    batch_id = response.json()["batch_execution_id"]

    execution = ScriptExecution.objects.get(host=hosts[0].host)
    agent.json(
        f"{ORBIT}/scripts/result",
        {"orbit_node_key": hosts[0].key, "execution_id": execution.execution_id, "output": "done", "exit_code": 0},
    )
    summary = api.get(f"{BASE}/scripts/batch/summary/{batch_id}").json()
    assert summary == {
        "script_id": script.pk,
        "script_name": "fix.sh",
        "team_id": script.team_id,
        "fleet_id": script.team_id,
        "created_at": summary["created_at"],
        "targeted": 3,
        "ran": 1,
        "pending": 1,
        "errored": 0,
        "incompatible": 1,
        "canceled": 0,
    }
    detail = api.get(f"{BASE}/scripts/batch/{batch_id}").json()
    assert detail["status"] == "started"
    assert detail["targeted_host_count"] == 3
    ran = api.get(f"{BASE}/scripts/batch/{batch_id}/host-results", {"status": "ran"}).json()
    assert ran["count"] == 1
    assert ran["hosts"][0]["script_output_preview"] == "done"
    incompatible = api.get(f"{BASE}/scripts/batch/{batch_id}/host-results", {"status": "incompatible"}).json()
    assert [h["id"] for h in incompatible["hosts"]] == [hosts[2].host.pk]
    listing = api.get(f"{BASE}/scripts/batch", {"team_id": script.team_id}).json()
    assert [b["batch_execution_id"] for b in listing["batch_executions"]] == [batch_id]

    assert api.post(f"{BASE}/scripts/batch/{batch_id}/cancel").status_code == 200
    summary = api.get(f"{BASE}/scripts/batch/summary/{batch_id}").json()
    assert (summary["pending"], summary["canceled"], summary["ran"]) == (0, 1, 1)
    assert api.get(f"{BASE}/scripts/batch/{batch_id}").json()["status"] == "finished"


def test_batch_run_finishes_when_every_host_answered(api, agent, fleet):
    hosts, script = fleet
    batch_id = api.post(f"{BASE}/scripts/run/batch", {"script_id": script.pk, "host_ids": [hosts[0].host.pk]}).json()[
        "batch_execution_id"
    ]
    execution = ScriptExecution.objects.get()
    agent.json(
        f"{ORBIT}/scripts/result",
        {"orbit_node_key": hosts[0].key, "execution_id": execution.execution_id, "output": "", "exit_code": 2},
    )
    detail = api.get(f"{BASE}/scripts/batch/{batch_id}").json()
    assert (detail["status"], detail["errored_host_count"]) == ("finished", 1)


def test_batch_run_by_filters_and_bad_requests(api, fleet, team):
    hosts, script = fleet
    response = api.post(f"{BASE}/scripts/run/batch", {"script_id": script.pk, "filters": {"team_id": team.pk}})
    assert response.status_code == 200
    assert BatchExecution.objects.get().hosts.count() == 3
    both = api.post(f"{BASE}/scripts/run/batch", {"script_id": script.pk, "host_ids": [1], "filters": {"x": 1}})
    assert both.status_code == 422
    free = Host.objects.create(osquery_host_id="free", hostname="free", platform="ubuntu")
    wrong_team = api.post(f"{BASE}/scripts/run/batch", {"script_id": script.pk, "host_ids": [free.pk]})
    assert wrong_team.status_code == 422
    assert api.get(f"{BASE}/scripts/batch/unknown-id").status_code == 404
    assert api.get(f"{BASE}/scripts/batch").status_code == 400
    status = api.get(f"{BASE}/scripts/batch/{BatchExecution.objects.get().batch_execution_id}/host-results")
    assert status.status_code == 400


def test_scheduled_batch_starts_when_due(api, fleet):
    hosts, script = fleet
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    response = api.post(
        f"{BASE}/scripts/run/batch", {"script_id": script.pk, "host_ids": [hosts[0].host.pk], "not_before": later}
    )
    batch = BatchExecution.objects.get(batch_execution_id=response.json()["batch_execution_id"])
    assert batch.status == "scheduled"
    assert not ScriptExecution.objects.exists()
    assert tasks.start_script_batches() == 0
    BatchExecution.objects.update(not_before=timezone.now() - timedelta(seconds=1))
    assert tasks.start_script_batches() == 1
    assert ScriptExecution.objects.filter(batch=batch).count() == 1


def test_batch_permissions(api_client_as, observer, outsider, maintainer, fleet):
    hosts, script = fleet
    body = {"script_id": script.pk, "host_ids": [hosts[0].host.pk]}
    assert api_client_as(observer).post(f"{BASE}/scripts/run/batch", body).status_code == 403
    assert api_client_as(outsider).post(f"{BASE}/scripts/run/batch", body).status_code == 404
    response = api_client_as(maintainer).post(f"{BASE}/scripts/run/batch", body)
    assert response.status_code == 200
    batch_id = response.json()["batch_execution_id"]
    assert api_client_as(observer).get(f"{BASE}/scripts/batch/{batch_id}").status_code == 200
    assert api_client_as(observer).post(f"{BASE}/scripts/batch/{batch_id}/cancel").status_code == 403
    assert api_client_as(outsider).get(f"{BASE}/scripts/batch/summary/{batch_id}").status_code == 404


def test_stale_queued_scripts_expire_only_when_configured(api, fleet, settings):
    hosts, script = fleet
    api.post(f"{BASE}/scripts/run", {"host_id": hosts[0].host.pk, "script_contents": "echo"})
    ScriptExecution.objects.update(created_at=timezone.now() - timedelta(days=40))
    settings.FLEETSITE_SCRIPT_PENDING_EXPIRY_DAYS = 0
    assert tasks.expire_pending_scripts() == 0
    settings.FLEETSITE_SCRIPT_PENDING_EXPIRY_DAYS = 30
    assert tasks.expire_pending_scripts() == 1
    assert api.get(f"{BASE}/hosts/{hosts[0].host.pk}/activities/upcoming").json()["count"] == 0
