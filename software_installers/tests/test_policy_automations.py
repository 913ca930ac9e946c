"""Policy automations: a host that starts failing a team policy gets its script or package queued, once."""

from __future__ import annotations

import pytest

from fleetsite.lib.tokens import digest
from hosts.models import Host
from queries.models import Policy
from scripts.models import Script, ScriptExecution
from software_installers.models import SoftwareInstall
from software_installers.tests.conftest import BASE, make_deb, upload

pytestmark = pytest.mark.django_db

WRITE = "/api/osquery/distributed/write"


@pytest.fixture
def host(enroll_host, team_secret):
    """An Ubuntu host of team A, enrolled by osquery, that also runs fleetd."""
    enrolled = enroll_host(secret=team_secret)
    Host.objects.filter(pk=enrolled.host.pk).update(orbit_node_key_digest=digest("orbit-key"))
    return enrolled


def team_policy(api, team, **body):
    path = f"{BASE}/teams/{team.pk}/policies"
    response = api.post(path, {"name": "hello installed", "query": "SELECT 1 FROM deb_packages WHERE name='hello';"})
    assert response.status_code == 200, response.content
    policy = response.json()["policy"]
    if body:
        response = api.patch(f"{path}/{policy['id']}", body)
        assert response.status_code == 200, response.content
        policy = response.json()["policy"]
    return policy


def answer(agent, host, policy_id, passes, django_capture_on_commit_callbacks):
    name = f"fleet_policy_query_{policy_id}"
    with django_capture_on_commit_callbacks(execute=True):
        agent.json(WRITE, host.body(queries={name: [{"1": "1"}] if passes else []}, statuses={name: 0}))


def add_deb(api, team):
    response = upload(api, f"{BASE}/software/package", "hello.deb", make_deb(), team_id=team.pk)
    assert response.status_code == 200, response.content
    return response.json()["software_package"]["title_id"]


def test_failing_queues_the_install_once_per_failure(api, agent, team, host, django_capture_on_commit_callbacks):
    title_id = add_deb(api, team)
    policy = team_policy(api, team, software_title_id=title_id)
    assert policy["install_software"] == {"software_title_id": title_id, "name": "hello"}
    answer(agent, host, policy["id"], False, django_capture_on_commit_callbacks)
    run = SoftwareInstall.objects.get()
    assert (run.host_id, run.policy_id, run.status) == (host.host.pk, policy["id"], "pending_install")
    run.status = "failed_install"
    run.save()
    answer(agent, host, policy["id"], False, django_capture_on_commit_callbacks)  # still failing: nothing new
    assert SoftwareInstall.objects.count() == 1
    answer(agent, host, policy["id"], True, django_capture_on_commit_callbacks)
    answer(agent, host, policy["id"], False, django_capture_on_commit_callbacks)  # a new failure
    assert SoftwareInstall.objects.count() == 2


def test_failing_runs_the_script(api, agent, team, host, django_capture_on_commit_callbacks):
    script = Script.objects.create(team=team, name="fix.sh", contents="echo fix")
    policy = team_policy(api, team, script_id=script.pk)
    assert policy["run_script"] == {"id": script.pk, "name": "fix.sh"}
    answer(agent, host, policy["id"], True, django_capture_on_commit_callbacks)
    assert not ScriptExecution.objects.exists()
    answer(agent, host, policy["id"], False, django_capture_on_commit_callbacks)
    assert ScriptExecution.objects.get().script_id == script.pk


def test_clearing_the_automation(api, team):
    script = Script.objects.create(team=team, name="fix.sh", contents="echo fix")
    policy = team_policy(api, team, script_id=script.pk)
    response = api.patch(f"{BASE}/teams/{team.pk}/policies/{policy['id']}", {"script_id": None})
    assert "run_script" not in response.json()["policy"]
    assert Policy.objects.get().script_id is None


def test_another_teams_script_or_title_is_refused(api, team, other_team):
    script = Script.objects.create(team=other_team, name="fix.sh", contents="echo fix")
    title_id = add_deb(api, other_team)
    policy = team_policy(api, team)
    path = f"{BASE}/teams/{team.pk}/policies/{policy['id']}"
    assert api.patch(path, {"script_id": script.pk}).status_code == 400
    assert api.patch(path, {"software_title_id": title_id}).status_code == 400


def test_global_policies_have_no_automations(api, team):
    script = Script.objects.create(team=None, name="fix.sh", contents="echo fix")
    response = api.post(f"{BASE}/policies", {"name": "p", "query": "SELECT 1;", "script_id": script.pk})
    assert response.status_code == 422


def test_policy_list_reads_automations_without_extra_queries(api, team, django_assert_max_num_queries):
    title_id = add_deb(api, team)
    for index in range(3):
        response = api.post(f"{BASE}/teams/{team.pk}/policies", {"name": f"p{index}", "query": "SELECT 1;"})
        api.patch(f"{BASE}/teams/{team.pk}/policies/{response.json()['policy']['id']}", {"software_title_id": title_id})
    api.get(f"{BASE}/teams/{team.pk}/policies")
    with django_assert_max_num_queries(12) as captured:
        api.get(f"{BASE}/teams/{team.pk}/policies")
    one = len(captured.captured_queries)
    api.post(f"{BASE}/teams/{team.pk}/policies", {"name": "p9", "query": "SELECT 1;"})
    with django_assert_max_num_queries(one):
        api.get(f"{BASE}/teams/{team.pk}/policies")
