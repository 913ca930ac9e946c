"""Packaging fixtures: a TUF repository of small generated "agent" executables, served on loopback.

Real fleetd binaries are not downloadable here, so each target is a tiny shell script or a fake
PE file; tar.gz targets hold the executable at the sub-path orbit expects. The shared repository
and target cache are session-scoped (builds are the slow part); tests that tamper with a
repository make their own with `make_repository`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from packaging.build import build_package
from packaging.options import PackageOptions
from packaging.repository import Repository
from packaging.sample import publish, serve_directory

SECRET = "s3cr3t-enroll-Secret+42"
FLEET_URL = "https://fleet.example.com:8443"


@dataclass
class Served:
    """A repository and the loopback URL that serves its metadata directory."""

    repo: Repository
    url: str
    server: ThreadingHTTPServer

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def make_repository(directory: Path, passphrase: str = "") -> Served:
    """A new repository with every test target published, served on 127.0.0.1."""
    repo = Repository(directory / "tuf", passphrase)
    repo.init()
    publish(repo, directory / "scratch")
    server = serve_directory(repo.metadata_dir)
    return Served(repo, f"http://127.0.0.1:{server.server_address[1]}", server)


@pytest.fixture(scope="session")
def served_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = make_repository(tmp_path_factory.mktemp("shared-repo"))
    yield served
    served.close()


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("target-cache")


@pytest.fixture
def repo_settings(settings: Any, served_repo: Served, shared_cache: Path, tmp_path: Path) -> Served:
    """Point this test's settings at the shared repository, cache and a private package directory."""
    settings.FLEETSITE_TUF_DIR = served_repo.repo.directory
    settings.FLEETSITE_UPDATE_URL = served_repo.url
    settings.PACKAGER_TARGET_CACHE = shared_cache
    settings.PACKAGER_DIR = tmp_path / "packages"
    settings.PACKAGER_THREADS = 0
    return served_repo


def full_options(package_type: str, url: str, **extra: Any) -> PackageOptions:
    """Options with many flags set, so each package shows where every flag lands."""
    values: dict[str, Any] = {
        "type": package_type,
        "fleet_url": FLEET_URL,
        "enroll_secret": SECRET,
        "update_url": url,
        "orbit_channel": "1.40",
        "osqueryd_channel": "stable",
        "desktop_channel": "stable",
        "fleet_desktop": package_type != "msi" or extra.get("arch", "amd64") == "amd64",
        "debug": True,
        "enable_scripts": True,
        "update_interval": "30m",
        "osquery_flagfile": "--verbose\n--logger_min_status=1\n",
        "host_identifier": "instance",
    }
    if package_type != "pkg":
        values["end_user_email"] = "user@example.com"
    values.update(extra)
    return PackageOptions(**values)


class Built:
    """Each package type built once per session with `full_options`, on first use; `url` is the update URL."""

    def __init__(self, served: Served, cache: Path, out: Path) -> None:
        self.served, self.cache, self.out = served, cache, out
        self.url = served.url
        self.paths: dict[str, Path] = {}

    def __call__(self, package_type: str) -> Path:
        if package_type not in self.paths:
            with override_settings(
                FLEETSITE_TUF_DIR=self.served.repo.directory,
                PACKAGER_TARGET_CACHE=self.cache,
                FLEETSITE_UPDATE_URL=self.url,
            ):
                options = full_options(package_type, self.url)
                self.paths[package_type] = build_package(options, self.out / package_type)
        return self.paths[package_type]


@pytest.fixture(scope="session")
def built(served_repo: Served, shared_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return Built(served_repo, shared_cache, tmp_path_factory.mktemp("built"))


@pytest.fixture(autouse=True)
def _eager_builds(settings: Any) -> Iterator[None]:
    """Builds run inside the test (no thread pool, no broker), whatever REDIS_URL says."""
    from fleetsite.celery import app

    settings.PACKAGER_THREADS = 0
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous
