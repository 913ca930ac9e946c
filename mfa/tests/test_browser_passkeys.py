"""Passkeys in Chromium: register one on /account/mfa/, then finish a password login with it.

Chromium's DevTools virtual authenticator (CDP `WebAuthn.*`) plays the security key, so the
browser's real WebAuthn code, our static/passkeys.js and py_webauthn's checks all run. The
server's public URL is http://localhost:<port>: WebAuthn refuses IP addresses as RP IDs, and
localhost is a secure context without TLS.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fleetsite.liveserver import LiveServer
from fleetsite.tests.browser import PASSWORD, Violations, needs_chromium, new_page, new_server, serving, submit_login

pytestmark = [pytest.mark.browser, needs_chromium]

SETUP = f"""
from accounts.models import User
User.objects.create_user("pat@example.com", "{PASSWORD}", name="Pat Passkey")
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = new_server(tmp_path_factory, "browser_passkeys")
    live.extra_env["FLEETSITE_SERVER_URL"] = f"http://localhost:{live.port}"
    with serving(live, SETUP):
        yield live


def _password_step(page: Any) -> None:
    page.goto("/login/?next=/account/")
    submit_login(page, "pat@example.com")


def test_register_a_passkey_then_log_in_with_it(server: LiveServer, browser: Any) -> None:
    base = f"http://localhost:{server.port}"
    page = new_page(browser, base)
    context = page.context
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
    _password_step(page)
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
    _password_step(page)
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
