"""`manage.py serve`: what it hands uvicorn."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from fleetsite import scheduler


@pytest.fixture
def uvicorn_options(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The options `serve` passes to uvicorn.run, which is not started; nor are the scheduler and signals."""
    options: dict[str, Any] = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: options.update(kwargs))
    monkeypatch.setattr(scheduler.InProcessScheduler, "start", lambda self: None)
    monkeypatch.setattr("signal.signal", lambda *args: None)
    return options


@pytest.mark.parametrize(
    ("level", "access_lines"), [("info", True), ("debug", True), ("warning", False), ("error", False)]
)
def test_access_lines_are_built_only_at_levels_that_print_them(
    uvicorn_options: dict[str, Any], level: str, access_lines: bool
) -> None:
    call_command("serve", "--log-level", level)
    assert uvicorn_options["log_level"] == level
    assert uvicorn_options["access_log"] is access_lines
