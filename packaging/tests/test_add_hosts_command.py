"""The "Add hosts" page's installer command, run as printed, builds an installer for this server."""

from __future__ import annotations

import html
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from fleetsite.lib.selfsigned import ensure_certificate
from packaging.tests.conftest import Served

pytestmark = pytest.mark.django_db

SERVER_URL = "https://fleet.example.com:8443"


def _deb_file(deb: Path, member: str) -> bytes:
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True).stdout
    return subprocess.run(["tar", "-xO", member], input=tar, capture_output=True, check=True).stdout


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_printed_deb_command_builds_an_installer_that_trusts_this_server(
    repo_settings: Served, settings, client: Client, admin: User, enroll_secret: str, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.delenv("FLEETSITE_TLS_CERT", raising=False)
    settings.FLEETSITE_SERVER_URL = SERVER_URL
    ensure_certificate(Path(settings.DATA_DIR) / "tls", ["fleet.example.com"])
    client.force_login(admin)
    page = html.unescape(client.get("/hosts/add/").content.decode())
    command = re.search(r"python manage\.py package --type=deb(?: \\\n  [^\s<]+)+", page)
    assert command, "the page prints a deb command"
    argv = shlex.split(command.group(0).replace("\\\n", " "))
    assert argv[:3] == ["python", "manage.py", "package"]

    # The files the page offers, saved where the command expects them (its working directory).
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fleet.pem").write_bytes(_body(client.get("/hosts/add/fleet.pem")))
    roots = client.get("/tuf/root.json")
    assert roots.status_code == 200
    (tmp_path / "root.json").write_bytes(_body(roots))

    out = tmp_path / "fleetd.deb"
    call_command("package", *argv[3:], f"--outfile={out}")
    env_file = _deb_file(out, "./etc/default/orbit").decode()
    assert f"ORBIT_FLEET_URL={SERVER_URL}\n" in env_file
    assert f"ORBIT_UPDATE_URL={repo_settings.url}\n" in env_file  # this server's TUF repository
    assert f"ORBIT_ENROLL_SECRET={enroll_secret}\n" in env_file
    assert _deb_file(out, "./opt/orbit/fleet.pem") == (tmp_path / "fleet.pem").read_bytes()
