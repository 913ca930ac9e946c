"""The fleetd round trip: queue, config notification, request, result, and the result seen over REST."""

from __future__ import annotations

import pytest

from activities.models import Activity
from scripts.models import ScriptExecution
from scripts.tests.conftest import BASE, ORBIT, orbit_enroll

pytestmark = pytest.mark.django_db


def run(api, host, contents="echo hello", expect=202):
    response = api.post(f"{BASE}/scripts/run", {"host_id": host.pk, "script_contents": contents})
    assert response.status_code == expect, response.content
    return response.json()


def test_round_trip_from_run_to_result(api, agent, orbit_host):
    execution_id = run(api, orbit_host.host)["execution_id"]
    config = agent.json(f"{ORBIT}/config", {"orbit_node_key": orbit_host.key})
    assert config["notifications"] == {"pending_script_execution_ids": [execution_id]}

    fetched = agent.json(f"{ORBIT}/scripts/request", {"orbit_node_key": orbit_host.key, "execution_id": execution_id})
    assert fetched["script_contents"] == "echo hello"
    assert fetched["exit_code"] is None
    assert fetched["host_id"] == orbit_host.host.pk

    body = {"orbit_node_key": orbit_host.key, "host_id": 999, "execution_id": execution_id}
    assert agent.json(f"{ORBIT}/scripts/result", {**body, "output": "hello\n", "runtime": 1, "exit_code": 0}) == {}

    result = api.get(f"{BASE}/scripts/results/{execution_id}").json()
    assert result["exit_code"] == 0
    assert result["output"] == "hello\n"
    assert result["host_id"] == orbit_host.host.pk
    assert result["host_timeout"] is False
    assert result["message"] == ""
    assert agent.json(f"{ORBIT}/config", {"orbit_node_key": orbit_host.key})["notifications"] == {}
    activity = Activity.objects.get(type="ran_script")
    assert activity.details["script_execution_id"] == execution_id
    assert activity.details["async"] is True
    assert activity.host_id == orbit_host.host.pk


def test_one_script_at_a_time_in_queue_order(api, agent, orbit_host):
    first = run(api, orbit_host.host, "echo 1")["execution_id"]
    second = run(api, orbit_host.host, "echo 2")["execution_id"]
    config = agent.json(f"{ORBIT}/config", {"orbit_node_key": orbit_host.key})
    assert config["notifications"]["pending_script_execution_ids"] == [first]
    agent.json(
        f"{ORBIT}/scripts/result",
        {"orbit_node_key": orbit_host.key, "execution_id": first, "output": "", "runtime": 0, "exit_code": 1},
    )
    config = agent.json(f"{ORBIT}/config", {"orbit_node_key": orbit_host.key})
    assert config["notifications"]["pending_script_execution_ids"] == [second]


def test_orbit_config_query_count_stays_constant(api, agent, orbit_host, django_assert_max_num_queries):
    run(api, orbit_host.host)
    agent.json(f"{ORBIT}/config", {"orbit_node_key": orbit_host.key})  # warm caches
    with django_assert_max_num_queries(3):
        agent.json(f"{ORBIT}/config", {"orbit_node_key": orbit_host.key})


def test_a_host_with_nothing_queued_costs_orbit_config_only_its_own_lookup(
    api, agent, orbit_host, django_assert_max_num_queries
):
    """The queue is read only for hosts stamped by a queuing; an empty read clears the stamp."""
    config = lambda: agent.json(f"{ORBIT}/config", {"orbit_node_key": orbit_host.key})["notifications"]  # noqa: E731
    assert config() == {}  # a new host: read once, found empty, stamp cleared
    with django_assert_max_num_queries(1):  # the host by its key
        assert config() == {}
    execution_id = run(api, orbit_host.host)["execution_id"]
    assert orbit_host.refresh().work_queued_at is not None
    assert config() == {"pending_script_execution_ids": [execution_id]}
    agent.json(
        f"{ORBIT}/scripts/result",
        {"orbit_node_key": orbit_host.key, "execution_id": execution_id, "output": "", "runtime": 0, "exit_code": 0},
    )
    assert config() == {}
    assert orbit_host.refresh().work_queued_at is None
    with django_assert_max_num_queries(1):
        assert config() == {}


def test_a_stamp_newer_than_the_one_read_is_not_cleared(orbit_host):
    from hosts import upcoming

    upcoming.mark_work_queued([orbit_host.host.pk])
    read = orbit_host.refresh().work_queued_at
    upcoming.mark_work_queued([orbit_host.host.pk])  # queued after the config read the queue
    assert orbit_host.refresh().work_queued_at != read
    upcoming.clear_if_unchanged(orbit_host.host.pk, read)
    assert orbit_host.refresh().work_queued_at is not None
    upcoming.clear_if_unchanged(orbit_host.host.pk, orbit_host.host.work_queued_at)
    assert orbit_host.refresh().work_queued_at is None


@pytest.mark.parametrize(
    ("exit_code", "message"),
    [
        (-1, "Timeout. Fleet stopped the script after 300 seconds to protect host performance."),
        (-2, "Scripts are disabled for this host. To run scripts, deploy the fleetd agent with scripts enabled."),
    ],
)
def test_fleetd_exit_codes_have_fleets_messages(api, agent, orbit_host, exit_code, message):
    execution_id = run(api, orbit_host.host)["execution_id"]
    agent.json(
        f"{ORBIT}/scripts/result",
        {"orbit_node_key": orbit_host.key, "execution_id": execution_id, "output": "", "exit_code": exit_code},
    )
    assert api.get(f"{BASE}/scripts/results/{execution_id}").json()["message"] == message


def test_the_agent_timeout_setting_reaches_config_and_message(api, agent, orbit_host, team):
    team.agent_options = {"config": {}, "script_execution_timeout": 30}
    team.save()
    execution_id = run(api, orbit_host.host)["execution_id"]
    assert agent.json(f"{ORBIT}/config", {"orbit_node_key": orbit_host.key})["script_execution_timeout"] == 30
    agent.json(
        f"{ORBIT}/scripts/result",
        {"orbit_node_key": orbit_host.key, "execution_id": execution_id, "output": "", "exit_code": -1},
    )
    message = api.get(f"{BASE}/scripts/results/{execution_id}").json()["message"]
    assert message == "Timeout. Fleet stopped the script after 30 seconds to protect host performance."


def test_another_hosts_execution_is_404(api, agent, orbit_host, team_secret):
    other = orbit_enroll(agent, team_secret, hardware_uuid="OTHER-UUID", hardware_serial="OTHER")
    execution_id = run(api, orbit_host.host)["execution_id"]
    body = {"orbit_node_key": other.key, "execution_id": execution_id}
    assert agent.post(f"{ORBIT}/scripts/request", body).status_code == 404
    result = {**body, "output": "x", "runtime": 0, "exit_code": 0}
    assert agent.post(f"{ORBIT}/scripts/result", result).status_code == 404
    assert ScriptExecution.objects.get(execution_id=execution_id).exit_code is None


def test_a_repeated_result_is_ignored(api, agent, orbit_host):
    execution_id = run(api, orbit_host.host)["execution_id"]
    body = {"orbit_node_key": orbit_host.key, "execution_id": execution_id, "output": "a", "runtime": 0}
    agent.json(f"{ORBIT}/scripts/result", {**body, "exit_code": 0})
    agent.json(f"{ORBIT}/scripts/result", {**body, "exit_code": 3, "output": "b"})
    assert ScriptExecution.objects.get(execution_id=execution_id).output == "a"
    assert Activity.objects.filter(type="ran_script").count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"execution_id": 5},
        {"execution_id": "x", "exit_code": "0"},
        {"execution_id": "x", "exit_code": 2**40},
        {"execution_id": "x", "exit_code": 0, "output": 7},
        {},
    ],
)
def test_bad_result_bodies_are_400(agent, orbit_host, body):
    response = agent.post(f"{ORBIT}/scripts/result", {"orbit_node_key": orbit_host.key, **body})
    assert response.status_code == 400
    assert response.json()["message"] == "Bad request"


def test_unknown_orbit_key_is_401(agent, orbit_host):
    response = agent.post(f"{ORBIT}/scripts/request", {"orbit_node_key": "nope", "execution_id": "x"})
    assert response.status_code == 401
