"""Passkeys in Chromium: register one on /account/mfa/, then finish a password login with it.

Chromium's DevTools virtual authenticator (CDP `WebAuthn.*`) plays the security key, so the
browser's real WebAuthn code, our static/passkeys.js and py_webauthn's checks all run. The
server's public URL is http://localhost:<port>: WebAuthn refuses IP addresses as RP IDs, and
localhost is a secure context without TLS.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetsite.liveserver import LiveServer, isolated_database_url
from fleetsite.tests.test_browser import CHROMIUM, PASSWORD
from fleetsite.tests.test_browser_csp import RECORD_VIOLATIONS, Violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium"),
]

SETUP = f"""
from accounts.models import User
User.objects.create_user("pat@example.com", "{PASSWORD}", name="Pat Passkey")
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("browser-passkeys")
    suffix = f"passkeys_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    database_url = isolated_database_url(os.environ.get("DATABASE_URL", ""), data_dir, suffix=suffix)
    live = LiveServer(data_dir=data_dir, database_url=database_url, extra_env={"LOG_LEVEL": "WARNING"})
    live.extra_env["FLEETSITE_SERVER_URL"] = f"http://localhost:{live.port}"
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
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic"]
        )
        yield chromium
        chromium.close()


def _password_step(page: Any, base: str) -> None:
    page.goto("/login/?next=/account/")
    page.fill("input[name=email]", "pat@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_register_a_passkey_then_log_in_with_it(server: LiveServer, browser: Any) -> None:
    base = f"http://localhost:{server.port}"
    context = browser.new_context(base_url=base)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    violations = Violations(page)
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )["authenticatorId"]

    # No second factor yet: the password alone logs in.
    _password_step(page, base)
    page.wait_for_url(f"{base}/account/")
    page.goto("/account/mfa/")
    violations.check()
    page.fill("#passkey-name", "Virtual key")
    page.click("#passkey-add-button")
    page.wait_for_selector("#recovery-codes")  # the first factor comes with recovery codes
    violations.check()
    page.goto("/account/mfa/")
    assert page.locator("#passkey-list td:text('Virtual key')").count() == 1
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(credentials) == 1 and credentials[0]["rpId"] == "localhost"

    # Log out, then the password step asks for the second factor and the passkey finishes it.
    page.click("form[action='/logout/'] button")
    page.wait_for_url("**/login/**")
    _password_step(page, base)
    page.wait_for_url(f"{base}/login/code/")
    violations.check()
    page.click("#passkey-login-button")
    page.wait_for_url(f"{base}/account/")
    violations.check()
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert credentials[0]["signCount"] >= 1
    page.goto("/account/sessions/")
    assert "password+passkey" in page.content()

    # Removing it asks first (with the password); then the list is empty.
    page.goto("/account/mfa/")
    page.click("#passkey-list a:text('Remove')")
    page.wait_for_selector("h2:text('Remove the passkey')")
    violations.check()
    page.fill("input[name=password]", PASSWORD)
    page.click("#passkey-remove-confirm")
    page.wait_for_url(f"{base}/account/mfa/")
    assert page.locator("#passkey-list").inner_text() == "No passkeys yet."
    context.close()
