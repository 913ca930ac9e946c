"""Redis is an accelerator, not a single point of failure (issue 12, findings 9 and 10).

Each test runs against its own redis-server (see `redisproc`) and stops it to simulate an outage.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.cache import cache
from django.test import override_settings

from conftest import AgentClient
from enrollment.tests.fixtures import EnrolledHost, payload
from fleetsite.lib import memo, sharedcache
from fleetsite.models import _CACHE_KEY as CONFIG_MEMO
from fleetsite.models import FleetConfig
from fleetsite.tests.redisproc import RedisProcess, require_redis_server
from queries import destinations, reports

pytestmark = pytest.mark.django_db

CONFIG = "/api/osquery/config"
READ = "/api/osquery/distributed/read"
WRITE = "/api/osquery/distributed/write"
LOG = "/api/osquery/log"
ORBIT_CONFIG = "/api/fleet/orbit/config"


@pytest.fixture
def redis_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisProcess]:
    """This test's own Redis as the cache and channel layer; stopped (if still running) at the end."""
    require_redis_server()
    server = RedisProcess(tmp_path / "redis")
    server.start()
    monkeypatch.setattr(sharedcache, "RETRY_SECONDS", 0.2)
    prefix = f"outage-{server.port}"
    redis_settings = override_settings(
        REDIS_URL=server.url,
        CACHES=server.cache_settings(prefix),
        CHANNEL_LAYERS=server.channel_layer_settings(prefix),
    )
    sharedcache.reset()
    memo.clear_local()
    try:
        with redis_settings:
            yield server
    finally:
        server.stop()
        sharedcache.reset()
        memo.clear_local()


def _past_retry_pause() -> None:
    time.sleep(sharedcache.RETRY_SECONDS + 0.05)


def _result_entries(host: EnrolledHost, count: int, tag: str) -> list[dict[str, Any]]:
    return [
        {"name": "pack/Global/uptime", "hostIdentifier": host.host.osquery_host_id, "unixTime": n,
         "action": "snapshot", "snapshot": [{"tag": tag, "n": str(n)}]}
        for n in range(count)
    ]  # fmt: skip


def _file_lines(log_type: str) -> list[bytes]:
    path = destinations.log_path(log_type)
    return path.read_bytes().splitlines() if path.exists() else []


# --- Finding 9: check-ins during an outage ------------------------------------------------------


def test_every_agent_check_in_answers_200_while_redis_is_down(
    redis_server: RedisProcess, agent: AgentClient, ubuntu_host: EnrolledHost, enroll_secret: str
) -> None:
    orbit_key = agent.json("/api/fleet/orbit/enroll", payload("orbit_enroll", enroll_secret=enroll_secret))[
        "orbit_node_key"
    ]
    redis_server.stop()
    memo.clear_local()  # nothing left from before the outage: every value must come from the database

    assert "options" in agent.json(CONFIG, ubuntu_host.body())
    assert "queries" in agent.json(READ, ubuntu_host.body())
    agent.json(WRITE, ubuntu_host.body(queries={}, statuses={}))
    agent.json(LOG, ubuntu_host.body(log_type="result", data=_result_entries(ubuntu_host, 2, "down")))
    agent.json(LOG, ubuntu_host.body(log_type="status", data=[{"severity": "0", "message": "hi"}]))
    agent.json(ORBIT_CONFIG, {"orbit_node_key": orbit_key})


def test_check_ins_during_an_outage_cost_the_same_few_queries(
    redis_server: RedisProcess, agent: AgentClient, ubuntu_host: EnrolledHost, django_assert_max_num_queries: Any
) -> None:
    redis_server.stop()
    memo.clear_local()
    agent.json(READ, ubuntu_host.body())  # loads config, labels, policies and campaigns from the database once
    agent.json(CONFIG, ubuntu_host.body())
    for _ in range(3):
        _past_retry_pause()  # Redis is tried again, fails again: still no extra database work
        with django_assert_max_num_queries(1):
            agent.json(READ, ubuntu_host.body())
        with django_assert_max_num_queries(1):
            agent.json(CONFIG, ubuntu_host.body())


def test_a_change_made_during_the_outage_is_served_once_redis_is_back(
    redis_server: RedisProcess, agent: AgentClient, ubuntu_host: EnrolledHost
) -> None:
    assert FleetConfig.load().features.get("enable_software_inventory", True) is True
    generation_before = cache.get(f"{CONFIG_MEMO}:generation")
    assert generation_before is not None

    redis_server.stop()
    config = FleetConfig.load()
    config.features = {**config.features, "enable_software_inventory": False}
    config.save()  # its invalidation cannot reach Redis now
    assert FleetConfig.load().features["enable_software_inventory"] is False  # this process reads the database

    redis_server.start()  # with the old generation and the old value still stored
    _past_retry_pause()
    assert FleetConfig.load().features["enable_software_inventory"] is False
    # Every other process reads the shared generation: it must have moved on from the old one.
    assert cache.get(f"{CONFIG_MEMO}:generation") != generation_before
    memo.clear_local()  # another process, fresh from Redis
    assert FleetConfig.load().features["enable_software_inventory"] is False


def test_login_is_answered_not_500_while_redis_is_down(redis_server: RedisProcess, admin: Any, client: Any) -> None:
    redis_server.stop()
    response = client.post(
        "/api/latest/fleet/login", {"email": admin.email, "password": "wrong"}, content_type="application/json"
    )
    assert response.status_code == 401


# --- /healthz -----------------------------------------------------------------------------------


def test_healthz_reports_redis_degraded_and_the_redis_check_fails(redis_server: RedisProcess, client: Any) -> None:
    assert client.get("/healthz").content == b""
    redis_server.stop()
    plain = client.get("/healthz")
    assert plain.status_code == 200  # agents are still served: keep this server in the load balancer
    assert plain.content == b"redis: degraded\n"
    assert client.get("/healthz", {"check": "redis"}).status_code == 500
    assert client.get("/healthz", {"check": "db"}).status_code == 200
    redis_server.start()
    assert client.get("/healthz", {"check": "redis"}).status_code == 200
    assert client.get("/healthz").content == b""


# --- Live queries -------------------------------------------------------------------------------


def test_a_live_query_started_during_the_outage_is_refused_as_unavailable_then_works(
    redis_server: RedisProcess, api: Any, ubuntu_host: EnrolledHost
) -> None:
    body = {"query": "SELECT 1;", "selected": {"hosts": [ubuntu_host.host.pk]}}
    redis_server.stop()
    refused = api.post("/api/latest/fleet/queries/run", body)
    assert refused.status_code == 503
    answer = refused.json()
    assert answer["message"] == "Live queries are unavailable"
    assert "Redis" in answer["errors"][0]["reason"]

    redis_server.start()
    deadline = time.monotonic() + 5
    while True:
        started = api.post("/api/latest/fleet/queries/run", body)
        if started.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert started.status_code == 200, started.content
    assert started.json()["campaign"]["id"]


def test_the_live_query_page_says_unavailable_during_the_outage(
    redis_server: RedisProcess, admin: Any, client: Any, ubuntu_host: EnrolledHost
) -> None:
    client.force_login(admin)
    redis_server.stop()
    response = client.post(
        "/queries/live/start/", {"query": "SELECT 1;", "hosts": [ubuntu_host.host.pk]}, content_type="application/json"
    )
    assert response.status_code == 503
    assert "unavailable" in response.json()["errors"][0]["reason"]


# --- Finding 10: log lines written once ---------------------------------------------------------


def test_a_result_log_during_the_outage_is_written_once(
    redis_server: RedisProcess, agent: AgentClient, ubuntu_host: EnrolledHost
) -> None:
    redis_server.stop()
    memo.clear_local()
    entries = _result_entries(ubuntu_host, 3, "outage")
    agent.json(LOG, ubuntu_host.body(log_type="result", data=entries))
    assert [orjson.loads(line) for line in _file_lines("result")] == entries


def test_a_failed_log_request_leaves_no_lines_for_the_resend_to_duplicate(
    agent: AgentClient, ubuntu_host: EnrolledHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = _result_entries(ubuntu_host, 3, "retry")

    def broken(*args: Any) -> None:
        raise RuntimeError("storing report rows failed")

    with monkeypatch.context() as patch:
        patch.setattr(reports, "ingest_result_logs", broken)
        agent.client.raise_request_exception = False
        assert agent.post(LOG, ubuntu_host.body(log_type="result", data=entries)).status_code == 500
    assert _file_lines("result") == []

    agent.json(LOG, ubuntu_host.body(log_type="result", data=entries))  # osquery resends the same batch
    assert [orjson.loads(line) for line in _file_lines("result")] == entries
