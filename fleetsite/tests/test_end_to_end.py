"""A real server process, real HTTP, simulated agents: what `make run` users get."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from agentsim import run as run_agents
from fleetsite.liveserver import LiveServer, isolated_database_url
from queries import livecheck

pytestmark = pytest.mark.e2e

ADMIN_EMAIL = "e2e-admin@example.com"
ADMIN_PASSWORD = "a long e2e password 1234"


def call(server: LiveServer, method: str, path: str, body: dict | None = None, token: str = "") -> tuple[int, Any]:
    return livecheck.call(server.url, method, path, body, token)


@pytest.fixture
def server(tmp_path):
    database_url = isolated_database_url(os.environ.get("DATABASE_URL", ""), tmp_path)
    live = LiveServer(data_dir=tmp_path / "data", database_url=database_url, redis_url=os.environ.get("REDIS_URL", ""))
    live.data_dir.mkdir()
    live.manage("migrate", "--noinput")
    env_admin = {"DJANGO_SUPERUSER_EMAIL": ADMIN_EMAIL, "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD}
    live.extra_env.update(env_admin)
    live.manage("createsuperuser", "--noinput")
    live.start()
    yield live
    assert live.stop() == 0, live.log()


def test_simulated_fleet_enrolls_checks_in_and_shows_up_with_vitals(server):
    secret = server.manage("enroll_secret", "add").strip()
    summary = asyncio.run(run_agents(server.url, secret, 30, platform="mixed", duration=12, seed=7, ramp=2))
    assert summary.ok, summary.format()
    assert summary.hosts_enrolled == 30
    assert summary.requests.get("/api/v1/osquery/distributed/write", 0) >= 30

    status, login = call(server, "POST", "/api/latest/fleet/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert status == 200, login
    status, listing = call(server, "GET", "/api/latest/fleet/hosts?per_page=100", token=login["token"])
    assert status == 200
    hosts = listing["hosts"]
    assert len(hosts) == 30
    platforms = {host["platform"] for host in hosts}
    assert {"darwin", "windows"} <= platforms
    for host in hosts:
        assert host["hostname"] and host["os_version"] and host["osquery_version"], host
        assert host["memory"] > 0 and host["cpu_brand"] and host["primary_ip"], host
        assert host["uptime"] > 0 and host["distributed_interval"] == 10, host
        assert host["status"] == "online", host
    status, detail = call(server, "GET", f"/api/latest/fleet/hosts/{hosts[0]['id']}", token=login["token"])
    assert status == 200
    assert detail["host"]["software"] and detail["host"]["users"]
    assert any(label["name"] == "All Hosts" for label in detail["host"]["labels"])
    status, _ = call(server, "GET", "/api/latest/fleet/hosts", token="wrong")
    assert status == 401


@pytest.mark.own_sqlite
def test_tls_serving_with_a_self_signed_certificate(tmp_path):
    live = LiveServer(data_dir=tmp_path / "tls", tls=True)
    with live:
        assert (live.data_dir / "tls" / "server.crt").exists()
        assert oct((live.data_dir / "tls" / "server.key").stat().st_mode & 0o777) == "0o600"
        secret = live.manage("enroll_secret", "add").strip()
        summary = asyncio.run(run_agents(live.url, secret, 3, duration=4, insecure=True, ramp=0.5))
        assert summary.ok, summary.format()
        assert summary.hosts_enrolled == 3
