"""Live queries through real servers: agentsim hosts answer, a websocket client sees every result.

The second test runs two server processes on one database and Redis: the websocket on one,
the agents on the other, so results must cross processes through the channel layer. The third
is the documented scale-out topology (docs/operations.md): three servers, agents spread over two.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from agentsim import run as run_agents
from fleetsite.lib import memo
from fleetsite.liveserver import LiveServer, isolated_database_url
from queries.livecheck import call, login, watch

pytestmark = pytest.mark.e2e

EMAIL, PASSWORD = "live@example.com", "a long live-query password 99"
HOSTS = 12


def _prepare(server: LiveServer) -> str:
    return server.prepare(EMAIL, PASSWORD)


async def _scenario(agent_url: str | list[str], socket_server: LiveServer, secret: str) -> None:
    stop = asyncio.Event()
    agent_urls = [agent_url] if isinstance(agent_url, str) else agent_url
    share = HOSTS // len(agent_urls)
    runs = [
        run_agents(url, secret, share, platform="mixed", duration=40, ramp=1, seed=index, stop_event=stop)
        for index, url in enumerate(agent_urls)
    ]
    agents = asyncio.gather(*runs)
    token = login(socket_server.url, EMAIL, PASSWORD)
    for _ in range(60):  # wait until every simulated host has enrolled
        await asyncio.sleep(0.5)
        status, body = call(socket_server.url, "GET", "/api/latest/fleet/hosts/count", token=token)
        if status == 200 and body["count"] == HOSTS:
            break
    status, listing = call(socket_server.url, "GET", "/api/latest/fleet/hosts?per_page=100", token=token)
    host_ids = [host["id"] for host in listing["hosts"]]
    started = time.monotonic()
    status, body = call(
        socket_server.url, "POST", "/api/latest/fleet/queries/run",
        {"query": "SELECT * FROM osquery_info;", "selected": {"hosts": host_ids}}, token=token,
    )  # fmt: skip
    assert status == 200, body
    campaign_id = body["campaign"]["id"]
    ws_url = socket_server.url.replace("http", "ws", 1) + "/api/latest/fleet/results/websocket"
    seen = await watch(ws_url, token, campaign_id, expected=HOSTS, timeout=25, started=started)
    stop.set()
    for summary in await agents:
        assert summary.ok, summary.format()
    assert set(seen.results) == set(host_ids), f"missing results from {set(host_ids) - set(seen.results)}"
    assert seen.finished_at is not None, seen.frames[-3:]
    for result in seen.results.values():
        assert result["rows"] and result["rows"][0]["version"], result
        assert result["rows"][0]["host_hostname"] == result["host"]["hostname"]
    assert [frame["type"] for frame in seen.frames][0] == "totals"


@pytest.mark.own_sqlite
def test_live_query_reaches_every_host_and_the_websocket(tmp_path):
    server = LiveServer(data_dir=tmp_path / "one")
    secret = _prepare(server)
    with server:
        asyncio.run(_scenario(server.url, server, secret))


@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs REDIS_URL: two processes share results through Redis"
)
def test_results_cross_processes_through_the_channel_layer(tmp_path):
    database_url = isolated_database_url(os.environ.get("DATABASE_URL", ""), tmp_path, suffix="e2e_live")
    redis_url = os.environ["REDIS_URL"]
    sockets = LiveServer(data_dir=tmp_path / "sockets", database_url=database_url, redis_url=redis_url)
    agents = LiveServer(data_dir=tmp_path / "agents", database_url=database_url, redis_url=redis_url)
    secret = _prepare(sockets)
    with sockets, agents:
        asyncio.run(_scenario(agents.url, sockets, secret))


@pytest.mark.skipif(
    not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL", "").startswith("mysql"),
    reason="the scale-out topology is MySQL + Redis",
)
def test_three_servers_on_one_mysql_and_redis(tmp_path):
    database_url = isolated_database_url(os.environ["DATABASE_URL"], tmp_path, suffix="e2e_three")
    redis_url = os.environ["REDIS_URL"]
    first, second, third = (
        LiveServer(data_dir=tmp_path / name, database_url=database_url, redis_url=redis_url)
        for name in ("first", "second", "third")
    )
    secret = _prepare(first)
    with first, second, third:
        asyncio.run(_scenario([first.url, second.url], third, secret))
        # A token minted on one server works on the others; a config change made on one reaches
        # agents of another within the few seconds each process may keep its copy (fleetsite/lib/memo.py).
        token = login(second.url, EMAIL, PASSWORD)
        status, enrolled = call(
            first.url, "POST", "/api/osquery/enroll",
            {"enroll_secret": secret, "host_identifier": "scale-out-probe", "host_details": {}},
        )  # fmt: skip
        assert status == 200, enrolled
        before = call(first.url, "POST", "/api/osquery/config", {"node_key": enrolled["node_key"]})[1]
        options = {"config": {"options": {"distributed_interval": 7, "logger_tls_period": 11}}}
        status, body = call(third.url, "PATCH", "/api/latest/fleet/config", {"agent_options": options}, token=token)
        assert status == 200, body
        deadline = time.monotonic() + memo.LOCAL_SECONDS + 3
        while time.monotonic() < deadline:
            status, after = call(first.url, "POST", "/api/osquery/config", {"node_key": enrolled["node_key"]})
            if status == 200 and after["options"]["distributed_interval"] == 7:
                break
            time.sleep(0.5)
        assert after["options"]["distributed_interval"] == 7, (before, after)


def _enroll(server: LiveServer, secret: str, identifier: str) -> str:
    status, enrolled = call(
        server.url, "POST", "/api/osquery/enroll",
        {"enroll_secret": secret, "host_identifier": identifier, "host_details": {}},
    )  # fmt: skip
    assert status == 200, enrolled
    return enrolled["node_key"]


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL: two installations share one Redis")
def test_two_installations_on_one_redis_do_not_share_campaign_lists(tmp_path):
    """Another installation's empty campaign list, cached in the same Redis, must not hide ours.

    Both servers' campaign lists are cached under a generation that a new campaign bumps. Were
    their keys the same, the other installation's agent, asking first, would store its own empty
    list under the new generation and our host would not see the campaign for 30 seconds.
    """
    redis_url = os.environ["REDIS_URL"]
    base = os.environ.get("DATABASE_URL", "")
    ours = LiveServer(tmp_path / "ours", isolated_database_url(base, tmp_path / "ours", "e2e_ours"), redis_url)
    theirs = LiveServer(tmp_path / "theirs", isolated_database_url(base, tmp_path / "theirs", "e2e_theirs"), redis_url)
    secret = _prepare(ours)
    their_secret = _prepare(theirs)
    with ours, theirs:
        our_host, their_host = _enroll(ours, secret, "ours-1"), _enroll(theirs, their_secret, "theirs-1")
        for server, node_key in ((ours, our_host), (theirs, their_host)):  # both lists cached: empty
            assert call(server.url, "POST", "/api/osquery/distributed/read", {"node_key": node_key})[0] == 200
        token = login(ours.url, EMAIL, PASSWORD)
        status, listing = call(ours.url, "GET", "/api/latest/fleet/hosts", token=token)
        status, body = call(
            ours.url, "POST", "/api/latest/fleet/queries/run",
            {"query": "SELECT 1;", "selected": {"hosts": [listing["hosts"][0]["id"]]}}, token=token,
        )  # fmt: skip
        assert status == 200, body
        name = f"fleet_distributed_query_{body['campaign']['id']}"
        time.sleep(1.5)  # every process's own copy of the list has expired
        assert call(theirs.url, "POST", "/api/osquery/distributed/read", {"node_key": their_host})[0] == 200
        status, read = call(ours.url, "POST", "/api/osquery/distributed/read", {"node_key": our_host})
        assert status == 200 and name in read["queries"], read
