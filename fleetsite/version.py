"""What this build of Fleetsite is, in Fleet's `version.Info` shape (`/version`, `GET /api/*/fleet/version`).

The release number has one home, `pyproject.toml` ([project] version, read into
settings.FLEETSITE_VERSION). The build is identified by its git commit: a checkout asks git once
per process; an installed copy without `.git` gets it from FLEETSITE_REVISION, FLEETSITE_BRANCH
and FLEETSITE_BUILD_DATE (set by whoever builds the image). The reported version carries the
short commit as build metadata (`0.1.0+g1a2b3c4`), so two builds of one release tell apart.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

_REPO = Path(__file__).resolve().parent.parent


def _git(*args: str) -> str:
    """One git answer about this checkout, or "" when there is no git or no repository."""
    try:
        done = subprocess.run(["git", *args], cwd=_REPO, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _rfc3339_from_unix(seconds: str) -> str:
    try:
        return datetime.fromtimestamp(int(seconds), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return ""


@functools.cache
def build() -> dict[str, str]:
    """revision, branch and build_date of the running code (asked once per process)."""
    revision = os.environ.get("FLEETSITE_REVISION", "").strip() or _git("rev-parse", "HEAD")
    branch = os.environ.get("FLEETSITE_BRANCH", "").strip() or _git("rev-parse", "--abbrev-ref", "HEAD")
    build_date = os.environ.get("FLEETSITE_BUILD_DATE", "").strip() or _rfc3339_from_unix(
        _git("show", "-s", "--format=%ct", "HEAD")
    )
    return {"revision": revision, "branch": branch, "build_date": build_date}


def info() -> dict[str, str]:
    """Fleet's version.Info: version, branch, revision, go_version, build_date, build_user."""
    details = build()
    version = settings.FLEETSITE_VERSION
    if details["revision"]:
        version = f"{version}+g{details['revision'][:7]}"
    return {
        "version": version,
        "branch": details["branch"],
        "revision": details["revision"],
        # Fleet names its runtime here (go1.x); ours is Python.
        "go_version": f"python{platform.python_version()}",
        "build_date": details["build_date"],
        "build_user": os.environ.get("FLEETSITE_BUILD_USER", "").strip() or "fleetsite",
    }
