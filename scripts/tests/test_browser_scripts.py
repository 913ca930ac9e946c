"""Browser test: upload a script, run it on two hosts, watch the batch page (Debian's Chromium, real server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetsite.liveserver import LiveServer
from fleetsite.tests.browser import PASSWORD, needs_chromium, new_server, serving, shot

pytestmark = [pytest.mark.browser, needs_chromium]

SETUP = f"""
from accounts.models import Team, User
from hosts.models import Host
User.objects.create_superuser("admin@example.com", "{PASSWORD}", name="Ada Admin")
team = Team.objects.create(name="Workstations")
Team.objects.create(name="Servers")
for name in ("web-1", "web-2", "db-1"):
    Host.objects.create(osquery_host_id=name, hostname=name, team=team, platform="ubuntu",
                        orbit_node_key_digest="digest-" + name)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving(new_server(tmp_path_factory, "browser_scripts"), SETUP) as live:
        yield live


def test_upload_a_script_and_run_it_on_two_hosts(page: Any, tmp_path: Path) -> None:
    page.goto("/scripts/")
    # The team picker reloads the page for the chosen team (htmx, no inline script: the CSP forbids it).
    page.select_option("select[name=team_id]", label="Workstations")
    page.wait_for_url("**team_id=**")
    bad = tmp_path / "notes.txt"
    bad.write_text("echo hi\n")
    page.set_input_files("input[name=script]", str(bad))
    page.click("#upload button[type=submit]")
    assert "Only .sh, .py, and .ps1 file types are allowed." in page.locator(".field-error").inner_text()
    good = tmp_path / "hello.sh"
    good.write_text("#!/bin/sh\necho hello\n")
    page.set_input_files("input[name=script]", str(good))
    page.click("#upload button[type=submit]")
    page.wait_for_selector("text=hello.sh was added.")
    page.click("#results a:text('Run on hosts')")
    page.fill("input[name=q]", "web")
    page.click("button:text('Find hosts')")
    page.wait_for_url("**q=web**")
    boxes = page.locator("#run input[name=ids]")
    assert boxes.count() == 2
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.click("button:text('Run on selected hosts')")
    page.wait_for_url("**/scripts/batches/**")
    assert page.locator("[data-count=targeted]").inner_text() == "2"
    assert page.locator("[data-count=pending]").inner_text() == "2"
    assert page.locator("#progress tbody tr").count() == 2
    shot(page, "script-batch")
    # The block refreshes itself while the batch runs (htmx polling keeps the counts).
    page.wait_for_timeout(2500)
    assert page.locator("[data-count=pending]").inner_text() == "2"
    # The host page loads its Scripts tab and queue (htmx blocks of the scripts and installers apps).
    batch_url = page.url
    page.click("#progress a:text('web-1')")
    page.wait_for_selector("#host-scripts a:text('hello.sh')")
    assert page.locator("#host-scripts button:text('Run')").count() == 1
    page.wait_for_selector("#host-upcoming :text('Run hello.sh')")
    assert page.locator("#host-upcoming button:text('Cancel')").count() == 1
    page.goto(batch_url)
    page.click("a:text('Cancel batch run')")
    page.click("button:text('Cancel the batch run')")
    page.wait_for_selector("text=was canceled")
    assert page.locator("[data-count=canceled]").inner_text() == "2"
