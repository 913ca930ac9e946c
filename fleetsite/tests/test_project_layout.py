"""Every app's tests run under `make test`: pytest collects only the folders pyproject names."""

from __future__ import annotations

import tomllib
from pathlib import Path

from django.apps import apps

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def test_every_app_with_tests_is_collected() -> None:
    config = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    local = {app.name for app in apps.get_app_configs() if Path(app.path).parent == BASE_DIR}
    with_tests = {name for name in local if (BASE_DIR / name / "tests").is_dir()}
    assert with_tests <= set(config["testpaths"]), f"add to testpaths: {sorted(with_tests - set(config['testpaths']))}"
