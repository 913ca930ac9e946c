"""The TUF repository: keys, Fleet's target naming, re-signing, `manage.py updates`, and /tuf/ serving."""

from __future__ import annotations

import datetime
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from tuf.api.metadata import Metadata

from packaging.exceptions import RepositoryError
from packaging.repository import Repository
from packaging.tasks import tuf_resign
from packaging.tests.conftest import Served, make_repository


def manage(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def tuf_dir(settings: Any, tmp_path: Path) -> Path:
    settings.FLEETSITE_TUF_DIR = tmp_path / "tuf"
    settings.FLEETSITE_TUF_KEY_PASSPHRASE = ""
    return settings.FLEETSITE_TUF_DIR


def test_updates_commands_publish_fleet_target_names(tuf_dir: Path, tmp_path: Path) -> None:
    assert "initialised TUF repository" in manage("updates", "init")
    keys = tuf_dir / "keys"
    assert oct(keys.stat().st_mode & 0o777) == "0o700"
    assert {oct(path.stat().st_mode & 0o777) for path in keys.iterdir()} == {"0o600"}
    assert not list((tuf_dir / "repository").rglob("*.pem"))  # the served directory holds no key
    with pytest.raises(CommandError, match="already exists"):
        manage("updates", "init")

    binary = tmp_path / "orbit"
    binary.write_bytes(b"#!/bin/sh\necho orbit\n")
    out = manage(
        "updates", "add", "--target", str(binary), "--platform", "linux", "--name", "orbit",
        "--version", "1.40.0", "-t", "1.40", "-t", "1", "-t", "stable",
    )  # fmt: skip
    names = ["orbit/linux/1.40.0/orbit", "orbit/linux/1.40/orbit", "orbit/linux/1/orbit", "orbit/linux/stable/orbit"]
    assert out.split() == [word for name in names for word in ("published", name)]
    targets = Metadata.from_file(str(tuf_dir / "repository/targets.json"))
    assert {name: info.custom for name, info in targets.signed.targets.items()} == {
        name: {"version": "1.40.0"} for name in names
    }
    assert set(targets.signed.targets["orbit/linux/stable/orbit"].hashes) == {"sha256", "sha512"}
    assert (tuf_dir / "repository/targets/orbit/linux/1/orbit").read_bytes() == binary.read_bytes()

    root = json.loads(manage("updates", "roots"))
    assert root["signed"]["_type"] == "root" and root["signed"]["consistent_snapshot"] is False
    assert (tuf_dir / "repository/1.root.json").is_file()
    status = manage("updates", "status")
    assert "timestamp  version 2" in status and "orbit/linux/stable/orbit" in status
    assert "version 3" in manage("updates", "timestamp")
    with pytest.raises(CommandError, match="invalid target tag"):
        manage("updates", "add", "--target", str(binary), "--platform", "linux", "--name", "orbit",
               "--version", "1.0", "-t", "../escape")  # fmt: skip


def test_keys_can_be_encrypted_with_the_passphrase(settings: Any, tmp_path: Path) -> None:
    repo = Repository(tmp_path / "tuf", passphrase="correct horse")
    repo.init()
    assert b"ENCRYPTED" in (tmp_path / "tuf/keys/timestamp.pem").read_bytes()
    with pytest.raises(RepositoryError, match="set FLEETSITE_TUF_KEY_PASSPHRASE"):
        Repository(tmp_path / "tuf").timestamp()
    with pytest.raises(RepositoryError, match="wrong FLEETSITE_TUF_KEY_PASSPHRASE"):
        Repository(tmp_path / "tuf", passphrase="battery staple").timestamp()
    assert repo.timestamp() == 2


def test_scheduled_resign_renews_the_timestamp_before_it_expires(tuf_dir: Path) -> None:
    repo = Repository.from_settings()
    assert tuf_resign() == []  # no repository yet: nothing to do
    repo.init()
    assert tuf_resign() == []  # everything fresh
    soon = datetime.datetime.now(datetime.UTC).replace(microsecond=0) + datetime.timedelta(hours=2)
    repo.set_expiry("timestamp", soon)
    assert tuf_resign() == ["timestamp"]
    timestamp = repo.load("timestamp").signed
    assert timestamp.expires - soon > datetime.timedelta(days=6)
    assert timestamp.version == 3


def test_tuf_files_are_served_read_only_without_traversal(repo_settings: Served, client: Client) -> None:
    root = client.get("/tuf/root.json")
    assert root.status_code == 200 and root["Content-Type"] == "application/json"
    assert b"".join(root.streaming_content) == repo_settings.repo.root_bytes()
    assert root["Cache-Control"] == "no-cache"
    target = client.get("/tuf/targets/orbit/linux/stable/orbit")
    assert target.status_code == 200 and b"".join(target.streaming_content).startswith(b"#!/bin/sh")
    for path in (
        "/tuf/../keys/root.pem",
        "/tuf/%2e%2e/keys/root.pem",
        "/tuf/targets/../../keys/root.pem",
        "/tuf/.lock",
        "/tuf/.root.json.tmp",
        "/tuf/targets/orbit/linux/stable",
        "/tuf/nope.json",
    ):
        assert client.get(path).status_code == 404, path
    assert client.post("/tuf/root.json").status_code == 405


def test_mirror_copies_another_repository_under_our_keys(tuf_dir: Path, tmp_path: Path, settings: Any) -> None:
    settings.PACKAGER_TARGET_CACHE = tmp_path / "cache"
    other = make_repository(tmp_path / "upstream")
    try:
        roots = tmp_path / "upstream-root.json"
        roots.write_bytes(other.repo.root_bytes())
        manage("updates", "init")
        out = manage("updates", "mirror", other.url, "--roots", str(roots), "--prefix", "orbit/linux/")
        local = Repository.from_settings().targets()
        assert set(local) == {f"orbit/linux/{tag}/orbit" for tag in ("1.40.0", "1.40", "1", "stable")}
        assert out.strip().endswith(f"mirrored 4 targets from {other.url}")
        assert local["orbit/linux/stable/orbit"].custom == {"version": "1.40.0"}
        wrong = tmp_path / "wrong-root.json"
        wrong.write_bytes(Repository.from_settings().root_bytes())
        with pytest.raises(CommandError, match="not signed by the trusted root"):
            manage("updates", "mirror", other.url, "--roots", str(wrong))
    finally:
        other.close()
