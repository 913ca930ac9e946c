"""A real Celery worker: while none runs the health check fails and jobs wait; once one starts, they run.

Issue 14's acceptance, end to end: server and worker are separate processes on one database and
Redis, as in production. The job is the policy-count refresh Fleet's `/trigger` queues, whose
effect (a failing host counted) is visible over the API.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from fleetsite.liveserver import BASE_DIR, LiveServer, isolated_database_url
from hosts.constants import POLICY_QUERY_PREFIX
from queries.livecheck import call, login

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="a separate worker needs REDIS_URL"),
]

EMAIL, PASSWORD = "worker-e2e@example.com", "a long worker password 1234"


def _own_redis_database(url: str) -> str:
    """Redis database 12: no other test's heartbeat may make the missing worker look alive."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/12", parts.query, parts.fragment))


def _healthz_worker(server: LiveServer) -> int:
    try:
        with urllib.request.urlopen(f"{server.url}/healthz?check=worker", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _failing_count(server: LiveServer, token: str) -> int:
    status, body = call(server.url, "GET", "/api/latest/fleet/global/policies", token=token)
    assert status == 200, body
    return body["policies"][0]["failing_host_count"]


def test_jobs_wait_for_a_worker_and_the_health_check_says_so(tmp_path: Path) -> None:
    redis_url = _own_redis_database(os.environ["REDIS_URL"])
    subprocess.run(["redis-cli", "-u", redis_url, "flushdb"], check=False, capture_output=True)
    database_url = isolated_database_url(os.environ.get("DATABASE_URL", ""), tmp_path, suffix="e2e_worker")
    server = LiveServer(data_dir=tmp_path / "data", database_url=database_url, redis_url=redis_url)
    server.data_dir.mkdir()
    server.manage("migrate", "--noinput")
    server.extra_env.update(DJANGO_SUPERUSER_EMAIL=EMAIL, DJANGO_SUPERUSER_PASSWORD=PASSWORD)
    server.manage("createsuperuser", "--noinput")
    secret = server.manage("enroll_secret", "add").strip()
    worker = None
    with server:
        assert _healthz_worker(server) == 500  # no worker has ever been seen
        token = login(server.url, EMAIL, PASSWORD)
        status, created = call(
            server.url, "POST", "/api/latest/fleet/global/policies",
            {"name": "never passes", "query": "SELECT 1 WHERE 0;"}, token=token,
        )  # fmt: skip
        assert status == 200, created
        policy_id = created["policy"]["id"]
        status, enrolled = call(
            server.url, "POST", "/api/osquery/enroll",
            {"enroll_secret": secret, "host_identifier": "worker-e2e", "host_details": {}},
        )  # fmt: skip
        node_key = enrolled["node_key"]
        name = f"{POLICY_QUERY_PREFIX}{policy_id}"
        status, read = call(server.url, "POST", "/api/osquery/distributed/read", {"node_key": node_key})
        assert name in read["queries"], read
        answer = {"node_key": node_key, "queries": {name: []}, "statuses": {name: 0}}
        assert call(server.url, "POST", "/api/osquery/distributed/write", answer)[0] == 200

        status, body = call(server.url, "POST", "/api/latest/fleet/trigger?name=cleanups_then_aggregation", token=token)
        assert status == 200, body
        time.sleep(2)
        assert _failing_count(server, token) == 0  # queued: nobody has run it

        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "fleetsite", "worker", "--pool", "solo", "--without-gossip",
             "--without-mingle", "--loglevel", "WARNING"],
            cwd=BASE_DIR, env=server.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if _healthz_worker(server) == 200 and _failing_count(server, token) == 1:
                    break
                time.sleep(1)
            assert _healthz_worker(server) == 200, "the started worker is seen"
            assert _failing_count(server, token) == 1, "the job queued while no worker ran has run"
        finally:
            worker.terminate()
            worker.wait(30)
