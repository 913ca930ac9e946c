"""SSO logins in Chromium (issue 18): SP-initiated SAML (the login page's IdP button, the IdP's form,
its auto-posting response, the way back) and OIDC (code flow with PKCE through the loopback
provider), against a real server process; JIT roles from the IdP change at the next login."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fleetsite.liveserver import LiveServer
from fleetsite.tests.browser import needs_chromium, new_page, new_server, serving
from sso.tests.conftest import SP_ENTITY_ID, sp_metadata
from sso.tests.providers import OidcProvider, SamlIdP

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, SamlIdP]]:
    live = new_server(tmp_path_factory, "browser-sso")
    live.extra_env["FLEETSITE_SERVER_URL"] = live.url
    idp = SamlIdP(live.data_dir)
    idp.trust_sp(sp_metadata(idp.metadata(), live.url))
    idp.users["jit@example.com"] = {"displayname": ["Jo Browser"], "FLEET_JIT_USER_ROLE_GLOBAL": ["maintainer"]}
    setup = (
        "from sso.models import SSOSettings\n"
        "row = SSOSettings.load()\n"
        f"row.enable_sso, row.enable_jit_provisioning, row.entity_id = True, True, {SP_ENTITY_ID!r}\n"
        f"row.idp_name, row.metadata = 'Loopback IdP', {idp.metadata()!r}\n"
        "row.save()\n"
    )
    idp.start()
    try:
        with serving(live, setup):
            yield live, idp
    finally:
        idp.stop()


def _sign_in(browser: Any, live: LiveServer, email: str) -> Any:
    page = new_page(browser, live.url)
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


@pytest.fixture(scope="module")
def oidc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, OidcProvider]]:
    live = new_server(tmp_path_factory, "browser-oidc")
    live.extra_env["FLEETSITE_SERVER_URL"] = live.url
    provider = OidcProvider()
    setup = (
        "from accounts.models import Team\n"
        "from sso import config\n"
        "Team.objects.create(name='Laptops')\n"
        "changed = []\n"
        "config.apply({'oidc': {'name': 'Loopback OIDC', "
        f"'discovery_url': {provider.discovery_url!r}, 'client_id': {provider.client_id!r}, "
        f"'client_secret': {provider.client_secret!r}}}, 'enable_jit_provisioning': True}}, changed)\n"
        "config.fetch_oidc_provider()\n"
        "config.apply({'oidc': {'enable_oidc': True}}, changed)\n"
    )
    provider.start()
    try:
        with serving(live, setup):
            yield live, provider
    finally:
        provider.stop()


def _roles(live: LiveServer, email: str) -> str:
    return (
        live.manage(
            "shell",
            "-c",
            "from accounts.models import User\n"
            f"u = User.objects.get(email={email!r})\n"
            "print(u.global_role or '-', sorted((m.team.name, m.role) for m in u.memberships.all()))",
        )
        .strip()
        .splitlines()[-1]
    )  # the shell may print its auto-import note first


def test_oidc_login_through_the_browser_and_role_change_on_next_login(
    oidc_server: tuple[LiveServer, OidcProvider], browser: Any
) -> None:
    live, provider = oidc_server
    provider.next_user = {"sub": "olu-1", "email": "olu@example.com", "name": "Olu Oidc",
                          "FLEET_JIT_USER_ROLE_GLOBAL": "observer"}  # fmt: skip
    page = new_page(browser, live.url)
    page.goto("/login/?next=/queries/")
    page.click("#sso-oidc")
    page.wait_for_url(f"{live.url}/queries/")
    assert "olu@example.com" in page.request.get(f"{live.url}/account/").text()
    assert _roles(live, "olu@example.com").startswith("observer")

    page.click("form[action='/logout/'] button")
    page.wait_for_url("**/login/**")
    provider.next_user = {**provider.next_user, "FLEET_JIT_USER_ROLE_GLOBAL": "maintainer"}
    page.goto("/login/?next=/hosts/")
    page.click("#sso-oidc")
    page.wait_for_url(f"{live.url}/hosts/")
    assert _roles(live, "olu@example.com").startswith("maintainer")
    page.context.close()


def test_oidc_state_mismatch_in_the_browser_shows_why(
    oidc_server: tuple[LiveServer, OidcProvider], browser: Any
) -> None:
    live, provider = oidc_server
    provider.next_user = {"sub": "eve-1", "email": "eve@example.com"}
    provider.tamper_state = True
    page = new_page(browser, live.url)
    try:
        page.goto("/login/")
        page.click("#sso-oidc")
        page.wait_for_url("**/login/?status=**")
        assert "state mismatch" in page.content()
    finally:
        provider.tamper_state = False
        page.context.close()
