"""The restore drill of docs/operations.md, on SQLite: back up a running server with
`manage.py backup`, unpack the archive into a fresh data dir, start a server on it, and find the
same hosts, queries, logins and TUF metadata (signed by the same keys)."""

from __future__ import annotations

import asyncio
import tarfile
from pathlib import Path

import pytest

from agentsim import run as run_agents
from fleetsite.liveserver import LiveServer
from queries.livecheck import call

pytestmark = [pytest.mark.e2e, pytest.mark.own_sqlite]

EMAIL, PASSWORD = "drill@example.com", "a long drill password 1234"


def login(server: LiveServer) -> str:
    status, body = call(server.url, "POST", "/api/latest/fleet/login", {"email": EMAIL, "password": PASSWORD})
    assert status == 200, body
    return body["token"]


def state(server: LiveServer, token: str) -> dict:
    """What a restore must bring back, as the API and the TUF repository serve it."""
    hosts = call(server.url, "GET", "/api/latest/fleet/hosts", token=token)[1]["hosts"]
    queries = call(server.url, "GET", "/api/latest/fleet/queries", token=token)[1]["queries"]
    tuf = {name: call(server.url, "GET", f"/tuf/{name}")[1] for name in ("root.json", "timestamp.json")}
    return {
        "hosts": sorted((h["id"], h["hostname"], h["uuid"]) for h in hosts),
        "queries": sorted((q["id"], q["name"], q["query"]) for q in queries),
        "tuf": tuf,
    }


def test_backup_restores_into_a_fresh_data_dir_and_the_server_answers_the_same(tmp_path: Path) -> None:
    original = LiveServer(data_dir=tmp_path / "original")
    original.data_dir.mkdir()
    original.manage("migrate", "--noinput")
    original.extra_env.update(DJANGO_SUPERUSER_EMAIL=EMAIL, DJANGO_SUPERUSER_PASSWORD=PASSWORD)
    original.manage("createsuperuser", "--noinput")
    original.manage("updates", "init")
    with original:
        secret = original.manage("enroll_secret", "add").strip()
        summary = asyncio.run(run_agents(original.url, secret, 2, duration=3, ramp=0.5, seed=3))
        assert summary.hosts_enrolled == 2, summary.format()
        token = login(original)
        status, _ = call(
            original.url, "POST", "/api/latest/fleet/queries", {"name": "drill", "query": "SELECT 1;"}, token
        )
        assert status == 200
        before = state(original, token)
        # Taken while the server runs, as a nightly job would.
        archive = tmp_path / "backup.tar.gz"
        original.manage("backup", str(archive))
    assert len(before["hosts"]) == 2 and before["queries"] and isinstance(before["tuf"]["root.json"], dict)
    assert oct(archive.stat().st_mode & 0o777) == "0o600"

    restored = LiveServer(data_dir=tmp_path / "restored")
    restored.data_dir.mkdir()
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        tar.extractall(restored.data_dir, filter="data")
    assert "server.sqlite3" in names and "secret_key" in names
    assert any(name.startswith("tuf/keys") or "/keys" in name for name in names), names
    with restored:  # start() migrates first: the upgrade step of the guide
        assert state(restored, login(restored)) == before
        # The restored server keeps serving agents: a new one enrolls with the old secret.
        summary = asyncio.run(run_agents(restored.url, secret, 1, duration=2, ramp=0.2, seed=99))
        assert summary.hosts_enrolled == 1, summary.format()
