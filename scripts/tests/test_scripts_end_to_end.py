"""Scripts through real servers and 200 agentsim hosts that answer like fleetd (never executing anything).

A batch run reaches every host and each result is stored, with its output and exit code, within
two orbit config intervals; a script cancelled while it waits behind another never reaches its
host; one that runs past fleetd's timeout shows Fleet's timed-out state. The second test runs
the same on two server processes sharing the database and Redis: scripts are queued through one
while the hosts check in with the other.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from agentsim import run as run_agents
from fleetsite.liveserver import LiveServer, isolated_database_url
from queries.livecheck import call, login

pytestmark = pytest.mark.e2e

EMAIL, PASSWORD = "scripts@example.com", "a long scripts password 99"
HOSTS = 200
INTERVAL = 5.0  # the simulated hosts' orbit config interval
API = "/api/latest/fleet"


def _prepare(server: LiveServer) -> tuple[str, int]:
    """The first admin, an enroll secret and a saved script; returns the secret and the script's id."""
    server.extra_env.update(DJANGO_SUPERUSER_EMAIL=EMAIL, DJANGO_SUPERUSER_PASSWORD=PASSWORD)
    server.data_dir.mkdir(parents=True, exist_ok=True)
    server.manage("migrate", "--noinput")
    server.manage("createsuperuser", "--noinput")
    secret = server.manage("enroll_secret", "add").strip()
    created = "from scripts.models import Script; print(Script.objects.create(name='fix.sh', contents='echo fix').pk)"
    return secret, int(server.manage("shell", "-c", created).strip().splitlines()[-1])


async def _wait_for(predicate, timeout: float, step: float = 0.25):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(step)
    return predicate()


async def _scenario(agent_url: str, api_url: str, secret: str, script_id: int) -> None:
    stop = asyncio.Event()
    agents = asyncio.ensure_future(
        run_agents(
            agent_url, secret, HOSTS, platform="linux", duration=120, ramp=3, seed=5, concurrency=32,
            orbit_config_interval=INTERVAL, stop_event=stop,
        )
    )  # fmt: skip
    token = login(api_url, EMAIL, PASSWORD)

    def ready() -> list[int]:
        """Every host enrolled and has reported scripts_enabled (orbit_info, in its first detail write)."""
        status, body = call(api_url, "GET", f"{API}/hosts?per_page=500&order_key=id", token=token)
        hosts = body["hosts"] if status == 200 else []
        return [h["id"] for h in hosts] if len(hosts) == HOSTS and all(h["scripts_enabled"] for h in hosts) else []

    host_ids = await _wait_for(ready, 90, step=1)
    assert host_ids, "every simulated host enrolls and reports that scripts are enabled"
    first, second = host_ids[:2]

    # Behind a script that is waiting for its host, a second one is cancelled: it never reaches the host.
    status, ahead = call(
        api_url, "POST", f"{API}/scripts/run", {"host_id": first, "script_contents": "echo one"}, token
    )
    assert status == 202, ahead
    status, behind = call(api_url, "POST", f"{API}/scripts/run", {"host_id": first, "script_contents": "echo 2"}, token)
    assert status == 202, behind
    path = f"{API}/hosts/{first}/activities/upcoming/{behind['execution_id']}"
    assert call(api_url, "DELETE", path, token=token)[0] == 204
    # One that runs past fleetd's timeout.
    body = {"host_id": second, "script_contents": "sleep 9999 # agentsim:timeout"}
    status, slow = call(api_url, "POST", f"{API}/scripts/run", body, token)
    assert status == 202, slow

    # A batch run on every host.
    started = time.monotonic()
    status, batch = call(
        api_url, "POST", f"{API}/scripts/run/batch", {"script_id": script_id, "host_ids": host_ids}, token
    )
    assert status == 200, batch
    summary_path = f"{API}/scripts/batch/summary/{batch['batch_execution_id']}"

    def all_ran() -> dict | None:
        summary = call(api_url, "GET", summary_path, token=token)[1]
        return summary if summary["ran"] + summary["errored"] == HOSTS else None

    summary = await _wait_for(all_ran, 4 * INTERVAL)
    elapsed = time.monotonic() - started
    assert summary, call(api_url, "GET", summary_path, token=token)[1]
    assert (summary["ran"], summary["errored"], summary["pending"]) == (HOSTS, 0, 0), summary
    results_path = f"{API}/scripts/batch/{batch['batch_execution_id']}/host-results?status=ran&per_page=500"
    results = call(api_url, "GET", results_path, token=token)[1]["hosts"]
    assert len(results) == HOSTS
    assert all(row["script_output_preview"].startswith("agentsim: script ") for row in results)

    status, ran = call(api_url, "GET", f"{API}/scripts/results/{ahead['execution_id']}", token=token)
    assert (status, ran["exit_code"], ran["output"].endswith("ran\n")) == (200, 0, True), ran
    status, timed_out = call(api_url, "GET", f"{API}/scripts/results/{slow['execution_id']}", token=token)
    assert (status, timed_out["exit_code"]) == (200, -1), timed_out
    assert timed_out["message"].startswith("Timeout. Fleet stopped the script after"), timed_out
    cancelled = call(api_url, "GET", f"{API}/scripts/results/{behind['execution_id']}", token=token)[1]
    assert cancelled["exit_code"] is None and cancelled["output"] == "", cancelled
    # Two more polls: nothing else is announced to any host.
    await asyncio.sleep(2 * INTERVAL)
    stop.set()
    summary = await agents
    assert summary.ok, summary.format()
    assert summary.results["scripts_run"] == HOSTS + 2, summary.results  # never the cancelled one
    # Two intervals as the hosts keep them (fleetd's 5% jitter), plus a second for the requests themselves.
    assert elapsed <= 2 * INTERVAL * 1.05 + 1, f"the batch took {elapsed:.1f} s, more than two orbit config intervals"


@pytest.mark.own_sqlite
def test_a_batch_reaches_200_hosts_within_two_config_intervals(tmp_path):
    server = LiveServer(data_dir=tmp_path / "one")
    secret, script_id = _prepare(server)
    with server:
        asyncio.run(_scenario(server.url, server.url, secret, script_id))


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL: two server processes share it")
def test_scripts_queued_on_one_server_are_answered_through_another(tmp_path):
    database_url = isolated_database_url(os.environ.get("DATABASE_URL", ""), tmp_path, suffix="e2e_scripts")
    redis_url = os.environ["REDIS_URL"]
    people = LiveServer(data_dir=tmp_path / "people", database_url=database_url, redis_url=redis_url)
    agents = LiveServer(data_dir=tmp_path / "agents", database_url=database_url, redis_url=redis_url)
    secret, script_id = _prepare(people)
    with people, agents:
        asyncio.run(_scenario(agents.url, people.url, secret, script_id))
