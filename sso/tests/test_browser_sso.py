"""SP-initiated SAML login in Chromium (issue 18 item 5): the login page's IdP button, the IdP's form,
its auto-posting response, and the way back, against a real server process and the loopback IdP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetsite.liveserver import LiveServer, isolated_database_url
from fleetsite.tests.test_browser import CHROMIUM
from sso.tests.conftest import SP_ENTITY_ID, sp_metadata
from sso.tests.providers import SamlIdP

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium"),
]


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, SamlIdP]]:
    data_dir = tmp_path_factory.mktemp("browser-sso")
    suffix = f"browser_sso_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    database_url = isolated_database_url(os.environ.get("DATABASE_URL", ""), data_dir, suffix=suffix)
    live = LiveServer(data_dir=data_dir, database_url=database_url, extra_env={"LOG_LEVEL": "WARNING"})
    live.extra_env["FLEETSITE_SERVER_URL"] = live.url
    idp = SamlIdP(data_dir)
    idp.trust_sp(sp_metadata(idp.metadata(), live.url))
    idp.users["jit@example.com"] = {"displayname": ["Jo Browser"], "FLEET_JIT_USER_ROLE_GLOBAL": ["maintainer"]}
    idp.start()
    live.start()
    try:
        live.manage(
            "shell",
            "-c",
            "from sso.models import SSOSettings\n"
            "row = SSOSettings.load()\n"
            f"row.enable_sso, row.enable_jit_provisioning, row.entity_id = True, True, {SP_ENTITY_ID!r}\n"
            f"row.idp_name, row.metadata = 'Loopback IdP', {idp.metadata()!r}\n"
            "row.save()\n",
        )
        yield live, idp
    finally:
        live.stop()
        idp.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic"]
        )
        yield chromium
        chromium.close()


def _sign_in(browser: Any, live: LiveServer, email: str) -> Any:
    page = browser.new_context(base_url=live.url).new_page()
    page.set_default_timeout(15_000)
    page.goto("/login/?next=/hosts/")
    page.click("#sso-saml")
    page.fill("#idp-email", email)
    page.click("#idp-submit")
    return page


def test_saml_login_through_the_browser(sso_server: tuple[LiveServer, SamlIdP], browser: Any) -> None:
    live, _ = sso_server
    page = _sign_in(browser, live, "jit@example.com")
    page.wait_for_url(f"{live.url}/hosts/")
    assert "Jo Browser" in page.content() or page.locator("text=Hosts").count() > 0
    me = page.request.get(f"{live.url}/account/")
    assert me.ok and "jit@example.com" in me.text()
    page.context.close()


def test_refused_login_shows_why(sso_server: tuple[LiveServer, SamlIdP], browser: Any) -> None:
    live, idp = sso_server
    idp.rogue = True
    try:
        page = _sign_in(browser, live, "jit@example.com")
        page.wait_for_url(f"{live.url}/login/?status=error")
        assert "signature does not match" in page.content()
    finally:
        idp.rogue = False
        page.context.close()
