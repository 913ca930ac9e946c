"""docs/settings.md lists every environment variable the code reads, and nothing it does not."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DOC = BASE_DIR / "docs" / "settings.md"
# env_str("X"), env_int("X", ...), os.environ.get("X") (or any `environ.get`), os.environ["X"], os.getenv("X")
READS = re.compile(
    r"""(?:env_(?:str|int|bool|float|list|choice)\(\s*|environ\.get\(\s*|os\.environ\[\s*|os\.getenv\(\s*)"([A-Z][A-Z0-9_]*)\""""
)
# Process plumbing (and a WSGI environ key), not settings.
NOT_SETTINGS = {"PATH", "DJANGO_SETTINGS_MODULE", "PYTEST_XDIST_WORKER", "PATH_INFO"}
SKIPPED_DIRS = {".venv", "tests", "bench", "node_modules", ".git", "var"}


def code_reads() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in BASE_DIR.rglob("*.py"):
        relative = path.relative_to(BASE_DIR)
        if set(relative.parts) & SKIPPED_DIRS or relative.name == "conftest.py":
            continue
        for name in READS.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, str(relative))
    return {name: where for name, where in found.items() if name not in NOT_SETTINGS}


def documented() -> set[str]:
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE))


def test_every_setting_the_code_reads_is_documented() -> None:
    missing = {name: where for name, where in code_reads().items() if name not in documented()}
    assert not missing, f"add these to docs/settings.md: {missing}"


def test_the_document_lists_no_setting_the_code_no_longer_reads() -> None:
    stale = documented() - set(code_reads())
    assert not stale, f"docs/settings.md lists settings nothing reads: {sorted(stale)}"


def test_the_scan_sees_settings_read_in_each_style() -> None:
    reads = code_reads()
    assert {"SECRET_KEY", "FLEETSITE_PROXY_COUNT", "PROMETHEUS_MULTIPROC_DIR", "FLEETCTL_ENABLE_SCRIPTS"} <= set(reads)
    assert len(reads) > 80


def test_the_readme_points_to_the_settings_page() -> None:
    assert "docs/settings.md" in (BASE_DIR / "README.md").read_text(encoding="utf-8")


def test_check_deploy_passes_with_the_production_example(tmp_path: Path) -> None:
    """docs/production.env, with its secret files made and a SQLite database, passes `check --deploy`."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    for line in (BASE_DIR / "docs" / "production.env").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value
    assert env["FLEETSITE_SERVER_URL"].startswith("https://")
    for name in [key for key in env if key.endswith("_FILE")]:
        secret = tmp_path / name.lower()
        secret.write_text(secrets.token_urlsafe(50))
        env[name] = str(secret)
    env.update(FLEETSITE_DATA_DIR=str(tmp_path / "data"), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_operators_guide_covers_what_operators_ask_for() -> None:
    guide = (BASE_DIR / "docs" / "operations.md").read_text(encoding="utf-8")
    for needle in (
        "fleetsite-worker.service",
        "fleetsite-beat.service",
        "manage.py backup",
        "tuf/keys",
        "manage.py migrate",
        "manage.py changepassword",
        "EMAIL_HOST",
        "proxy_set_header Upgrade",
        "test_restore_drill.py",
    ):
        assert needle in guide, needle
    # Every setting the guide names exists (a renamed setting must not leave the guide behind).
    named = {name.removesuffix("_FILE") for name in re.findall(r"`((?:FLEETSITE|PACKAGER|EMAIL)_[A-Z0-9_]+)`", guide)}
    assert named <= documented(), named - documented()
