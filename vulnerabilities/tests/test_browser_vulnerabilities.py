"""Browser test: the Vulnerabilities page (table and chart) and a CVE's page, in Debian's Chromium.

The server's data come from the feed fixtures and the matching job, as in the other tests here;
Content-Security-Policy violations (the chart is inline SVG, no inline styles) fail the test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetsite.liveserver import LiveServer, isolated_database_url
from fleetsite.tests.test_browser import CHROMIUM, PASSWORD, browser, shot  # noqa: F401 (the browser fixture)
from vulnerabilities.tests.fixtures import FEEDS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium"),
]

SETUP = f"""
from accounts.models import Team, User
from vulnerabilities.tests.fixtures import install, make_host, software
User.objects.create_superuser("admin@example.com", "{PASSWORD}", name="Ada Admin")
team = Team.objects.create(name="Workstations")
mac = make_host("mac-1", "darwin", "macOS 14.1.1", team)
install(mac, software("Google Chrome.app", "120.0.6099.71", "apps", "com.google.Chrome"),
        software("requests", "2.28.1", "python_packages"))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("browser_vulns")
    suffix = f"vulns_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    database_url = isolated_database_url(os.environ.get("DATABASE_URL", ""), data_dir, suffix=suffix)
    live = LiveServer(data_dir=data_dir, database_url=database_url, extra_env={"LOG_LEVEL": "WARNING"})
    live.start()
    try:
        live.manage("shell", "-c", SETUP)
        live.manage("vulnerabilities", "import", str(FEEDS))
        live.manage("vulnerabilities", "match")
        yield live
    finally:
        live.stop()


def test_vulnerabilities_page_and_a_cve_page(browser: Any, server: LiveServer) -> None:  # noqa: F811
    context = browser.new_context(base_url=server.url, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    failed: list[str] = []
    page.on(
        "response",
        lambda response: (
            failed.append(response.url) if response.status >= 400 and "favicon" not in response.url else None
        ),
    )
    try:
        page.goto("/login/")
        page.fill("input[name=email]", "admin@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/")
        page.click("nav.mainnav >> text=Vulnerabilities")
        page.wait_for_url(f"{server.url}/vulnerabilities/")
        chart = page.get_by_role("img", name="Open vulnerabilities over time")
        assert chart.is_visible()
        assert page.locator("svg.chart rect.chart-bar").count() == 30
        assert page.locator("svg.chart rect.chart-bar").last.get_attribute("data-open") == "3"
        rows = page.locator("#results tbody tr")
        assert rows.count() == 3  # Chrome's CVE-2023-7024, requests' CVE-2023-32681, macOS's CVE-2023-42916
        # Known exploited: Chrome's and macOS's; htmx swaps the results and keeps the filter in the address.
        page.check("input[name=exploit]")
        page.wait_for_url("**exploit=on**")
        page.wait_for_function("document.querySelectorAll('#results tbody tr').length === 2")
        # The chart came with the swapped results: it counts the same two CVEs' open hosts now.
        assert page.locator("svg.chart rect.chart-bar").last.get_attribute("data-open") == "2"
        shot(page, "vulnerabilities")
        page.click("#results >> text=CVE-2023-7024")
        page.wait_for_url(f"{server.url}/vulnerabilities/CVE-2023-7024/")
        assert page.locator("h1").inner_text().startswith("CVE-2023-7024")
        assert page.locator("text=Heap buffer overflow in WebRTC").count() == 1
        assert page.locator("#hosts tbody tr").count() == 1 and page.locator("#hosts >> text=mac-1").count() == 1
        crbug = page.locator('a[href="https://crbug.com/1513170"]')  # one of NVD's references
        assert crbug.count() == 1 and crbug.get_attribute("rel") == "noopener noreferrer"
        shot(page, "cve")
        assert violations == [] and failed == []
    finally:
        context.close()
