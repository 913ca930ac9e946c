"""The Content-Security-Policy in a real browser, over `serve --tls`: no page trips it, htmx still works.

Chromium reports every blocked inline script, style, handler or eval as a `securitypolicyviolation`
event and a console error; both are collected on every page and must stay empty. The server runs
with --tls (its self-signed certificate) so login also proves Secure cookies come back.
"""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from fleetsite.liveserver import LiveServer
from fleetsite.tests.browser import (
    DESKTOP,
    PASSWORD,
    Violations,
    needs_chromium,
    new_server,
    open_page,
    serving,
    submit_login,
)

pytestmark = [pytest.mark.browser, needs_chromium]

SETUP = f"""
from accounts.models import Team, User
from queries.models import Query
User.objects.create_superuser("admin@example.com", "{PASSWORD}", name="Ada Admin")
Team.objects.create(name="Workstations")
Query.objects.create(name="uptime", query="SELECT * FROM uptime;")
"""


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = new_server(tmp_path_factory, "browser_csp", tls=True)
    with serving(live, SETUP, ("seed_hosts", "60", "--quiet")):
        yield live


@pytest.fixture
def tls_page(browser: Any, tls_server: LiveServer) -> Iterator[tuple[Any, Violations]]:
    with open_page(browser, tls_server.url, ignore_https_errors=True, viewport=DESKTOP) as page:
        violations = Violations(page)
        page.goto("/login/")
        violations.check()
        submit_login(page)
        page.wait_for_url(f"{tls_server.url}/")
        yield page, violations


def test_tls_server_sends_hsts_and_secure_cookies(tls_server: LiveServer) -> None:
    context = ssl._create_unverified_context()  # the self-signed certificate
    with urllib.request.urlopen(f"{tls_server.url}/login/", context=context, timeout=10) as response:
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
        assert "; secure" in response.headers["Set-Cookie"].lower()
        assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]


def test_main_pages_have_no_csp_violations_and_htmx_still_works(tls_page: tuple[Any, Violations]) -> None:
    page, violations = tls_page
    # Logged in over https: the Secure session cookie came back.
    assert page.locator("h1").first.inner_text() == "Dashboard"
    assert page.locator("progress.bar").count() >= 1
    violations.check()

    page.goto("/hosts/")
    page.wait_for_function("() => document.querySelector('.pagination .count').textContent.includes('of 60,')")
    page.select_option("select[name=platform]", "windows")  # htmx filter
    page.wait_for_url("**platform=windows**")
    page.wait_for_function("() => [...document.querySelectorAll('#results tbody tr')].length < 50")
    page.click("#results thead a:text('Serial')")  # htmx sort
    page.wait_for_url("**order_key=hardware_serial**")
    page.wait_for_selector("#results thead th[aria-sort=ascending] a:text('Serial')")
    violations.check()

    page.locator("#results tbody tr td:nth-child(2) a").first.click()
    page.wait_for_selector("h2:text('Vitals')")
    violations.check()

    for path in ("/queries/", "/settings/", "/settings/agent-options/", "/teams/", "/users/", "/api/reference/"):
        assert page.goto(path).status == 200, path
        violations.check()

    page.goto("/queries/live/")
    page.fill("#live-form input[name=q]", "a")  # htmx search
    page.wait_for_selector("#host-options label.option")
    page.locator("#host-options input[name=hosts]").first.check()
    with page.expect_websocket() as opened:
        page.click("#run")  # starts the campaign, then follows it over a wss:// websocket (connect-src 'self')
    opened.value.wait_for_event("framereceived")
    page.wait_for_function("() => document.getElementById('totals').textContent.includes('1 targeted')")
    violations.check()

    page.goto("/teams/")
    page.locator("main table a").first.click()
    page.wait_for_selector("h1:text('Workstations')")
    violations.check()


def test_admin_and_api_docs_have_no_csp_violations(tls_page: tuple[Any, Violations]) -> None:
    page, violations = tls_page
    for path in ("/admin/", "/admin/accounts/user/", "/admin/hosts/host/"):
        assert page.goto(path).status == 200, path
        violations.check()
    page.goto("/admin/accounts/user/")
    page.locator("#result_list tbody th a").first.click()
    page.wait_for_selector("#content-main form")
    violations.check()
    page.goto("/api/docs/")
    page.wait_for_selector("text=Fleetsite API", timeout=30_000)  # Redoc rendered the schema
    # Redoc's sidebar logo comes from Redocly's CDN: blocked on purpose (the docs stay offline,
    # no third-party requests); Redoc hides the image when it fails to load.
    violations.check(expected_blocked="https://cdn.redoc.ly/")
