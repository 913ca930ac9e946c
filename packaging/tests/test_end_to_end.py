"""A real server serving its own TUF repository: `manage.py package` and the packager API build against it."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from fleetsite.liveserver import LiveServer, isolated_database_url
from packaging.sample import target_files

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path) -> LiveServer:
    # No REDIS_URL: builds run on the server's in-process threads, as in the embedded default.
    database_url = isolated_database_url(os.environ.get("DATABASE_URL", ""), tmp_path, "packaging_e2e")
    live = LiveServer(data_dir=tmp_path / "data", database_url=database_url)
    live.data_dir.mkdir()
    live.manage("updates", "init")
    scratch = tmp_path / "targets"
    for name, platform, filename, data, version in target_files():
        if platform != "linux" or name == "desktop":
            continue
        path = scratch / name / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        live.manage("updates", "add", "--target", str(path), "--platform", platform, "--name", name,
                    "--version", version, "-t", "stable")  # fmt: skip
    live.start()
    yield live
    assert live.stop() == 0, live.log()


def _env_file(deb: Path) -> str:
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True).stdout
    return subprocess.run(
        ["tar", "-xO", "./etc/default/orbit"], input=tar, capture_output=True, check=True
    ).stdout.decode()


def test_cli_and_api_build_against_the_servers_own_repository(server: LiveServer, tmp_path: Path) -> None:
    secret = server.manage("enroll_secret", "add").strip()
    # The CLI's default --update-url is <fleet-url>/tuf, trusted through the local root.
    out = tmp_path / "cli.deb"
    server.manage("package", "--type", "deb", "--fleet-url", server.url, "--enroll-secret", secret,
                  "--outfile", str(out))  # fmt: skip
    env = _env_file(out)
    assert f"ORBIT_UPDATE_URL={server.url}/tuf\n" in env and f"ORBIT_FLEET_URL={server.url}\n" in env

    body = json.dumps({"type": "deb", "fleet_url": server.url, "enroll_secret": secret}).encode()
    request = urllib.request.Request(f"{server.url}/api/packager/create", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        package_id = json.loads(response.read())["package_id"]
    deadline = time.monotonic() + 60
    while True:
        with urllib.request.urlopen(f"{server.url}/api/packager/status?package_id={package_id}", timeout=10) as reply:
            state = json.loads(reply.read())
        if state["status"] != "in-progress" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert state["status"] == "success", (state, server.log())
    with urllib.request.urlopen(state["download_url"], timeout=10) as reply:
        (tmp_path / "api.deb").write_bytes(reply.read())
    assert _env_file(tmp_path / "api.deb") == env
