"""Browser test: the Vulnerabilities page (table and chart) and a CVE's page, in Debian's Chromium.

The server's data come from the feed fixtures and the matching job, as in the other tests here;
Content-Security-Policy violations (the chart is inline SVG, no inline styles) fail the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fleetsite.liveserver import LiveServer
from fleetsite.tests.browser import DESKTOP, PASSWORD, log_in, needs_chromium, new_page, new_server, serving, shot
from vulnerabilities.tests.fixtures import FEEDS

pytestmark = [pytest.mark.browser, needs_chromium]

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
    commands = [("vulnerabilities", "import", str(FEEDS)), ("vulnerabilities", "match")]
    with serving(new_server(tmp_path_factory, "browser_vulns"), SETUP, *commands) as live:
        yield live


def test_vulnerabilities_page_and_a_cve_page(browser: Any, server: LiveServer) -> None:
    page = new_page(browser, server.url, viewport=DESKTOP)
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
        log_in(page, server.url)
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
        page.context.close()
