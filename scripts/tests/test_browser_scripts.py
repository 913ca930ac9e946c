"""Browser test: upload a script, run it on two hosts, watch the batch page (Debian's Chromium, real server)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetsite.liveserver import BASE_DIR, LiveServer, isolated_database_url

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = BASE_DIR / "test-artifacts"
PASSWORD = "browser test passphrase 1"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium"),
]

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
    data_dir = tmp_path_factory.mktemp("browser_scripts")
    suffix = f"browser_scripts_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    database_url = isolated_database_url(os.environ.get("DATABASE_URL", ""), data_dir, suffix=suffix)
    live = LiveServer(data_dir=data_dir, database_url=database_url, extra_env={"LOG_LEVEL": "WARNING"})
    live.start()
    try:
        live.manage("shell", "-c", SETUP)
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic",
            ],
        )  # fmt: skip
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(base_url=server.url, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/login/")
    page.fill("input[name=email]", "admin@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")
    yield page
    context.close()


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
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "script-batch.png"), full_page=True)
    # The block refreshes itself while the batch runs (htmx polling keeps the counts).
    page.wait_for_timeout(2500)
    assert page.locator("[data-count=pending]").inner_text() == "2"
    page.click("a:text('Cancel batch run')")
    page.click("button:text('Cancel the batch run')")
    page.wait_for_selector("text=was canceled")
    assert page.locator("[data-count=canceled]").inner_text() == "2"
