"""Browser-test plumbing, registered once in the root conftest.py: a live server per test module, Debian's
Chromium through Playwright (never a downloaded browser), and a logged-in page.

A module marks itself `pytestmark = [pytest.mark.browser, needs_chromium]`, defines its own `server`
fixture (its data: `with serving(new_server(tmp_path_factory, "browser_x"), SETUP) as live: yield live`)
and asks for `browser`, or for `page`: the admin, logged in, at desktop size. `open_page` makes others.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from fleetsite.liveserver import BASE_DIR, LiveServer, isolated_database_url

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = BASE_DIR / "test-artifacts"
PASSWORD = "browser test passphrase 1"
ADMIN = "admin@example.com"
DESKTOP = {"width": 1440, "height": 900}
# Nothing the tests did not ask for: no background fetches, component updates or sync.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium"
)

# Recorded in every document before its own scripts run (Violations adds it to its page).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} at ${where}`);
});
"""


def new_server(tmp_path_factory: pytest.TempPathFactory, name: str, tls: bool = False) -> LiveServer:
    """A server not yet started, with its own data directory and database (one per xdist worker)."""
    data_dir = tmp_path_factory.mktemp(name)
    suffix = f"{name.replace('-', '_')}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    database_url = isolated_database_url(os.environ.get("DATABASE_URL", ""), data_dir, suffix=suffix)
    return LiveServer(data_dir=data_dir, database_url=database_url, tls=tls, extra_env={"LOG_LEVEL": "WARNING"})


@contextmanager
def serving(live: LiveServer, setup: str = "", *commands: Sequence[str]) -> Iterator[LiveServer]:
    """Start `live`, run the `setup` Python and then each management command in it; stop it afterwards."""
    try:
        live.start()
        if setup:
            live.manage("shell", "-c", setup)
        for command in commands:
            live.manage(*command)
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, one per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def new_page(browser: Any, base_url: str, **options: Any) -> Any:
    """A page in a context of its own (`options`: viewport, ignore_https_errors, ...); close `page.context`."""
    page = browser.new_context(base_url=base_url, **options).new_page()
    page.set_default_timeout(15_000)
    return page


def submit_login(page: Any, email: str = ADMIN) -> None:
    """Fill in and send the login form the page shows."""
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def log_in(page: Any, base_url: str, email: str = ADMIN) -> None:
    """Log in with the password form and wait for the dashboard."""
    page.goto("/login/")
    submit_login(page, email)
    page.wait_for_url(f"{base_url}/")


@contextmanager
def open_page(browser: Any, base_url: str, email: str = "", **options: Any) -> Iterator[Any]:
    """A new page (see new_page), logged in as `email` when one is given; its context is closed afterwards."""
    page = new_page(browser, base_url, **options)
    try:
        if email:
            log_in(page, base_url, email)
        yield page
    finally:
        page.context.close()


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    """The admin's page on the module's `server`, logged in, at desktop size."""
    with open_page(browser, server.url, ADMIN, viewport=DESKTOP) as page:
        yield page


def shot(page: Any, name: str) -> None:
    """A full-page screenshot in test-artifacts/, to look at after a run."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


class Violations:
    """CSP violations seen on the pages visited: events from the page and console errors.

    Made before the page's first navigation, so every document records its events.
    """

    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._on_console)

    def _on_console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(f"{self.page.url}: {message.text}")

    def check(self, expected_blocked: str = "") -> None:
        """Fails when the current page or any console message so far reported a violation.

        `expected_blocked` names a URL prefix the policy is meant to block on this page.
        """
        events = self.page.evaluate("() => window.__cspViolations || []")
        if expected_blocked:
            events = [event for event in events if f"blocked {expected_blocked}" not in event]
            self.console = [message for message in self.console if expected_blocked not in message]
        assert events == [], f"{self.page.url}: {events}"
        assert self.console == []
