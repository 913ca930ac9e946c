"""SSO logins in Chromium (issue 18): SP-initiated SAML (the login page's IdP button, the IdP's form,
its auto-posting response, the way back) and OIDC (code flow with PKCE through django-oauth-toolkit
in its own process, its login form filled in the browser), against a real server process; JIT
roles from the IdP change at the next login."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from fleetsite.liveserver import LiveServer
from fleetsite.tests.browser import needs_chromium, new_page, new_server, serving
from sso.constants import OIDC_CALLBACK_PATH
from sso.tests.conftest import SP_ENTITY_ID, sp_metadata
from sso.tests.oidc_idp.process import OidcProviderProcess
from sso.tests.providers import SamlIdP

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
def oidc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, OidcProviderProcess]]:
    live = new_server(tmp_path_factory, "browser-oidc")
    live.extra_env["FLEETSITE_SERVER_URL"] = live.url
    provider = OidcProviderProcess(tmp_path_factory.mktemp("browser-oidc-idp"), [live.url + OIDC_CALLBACK_PATH])
    provider.start()
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


def _provider_login(page: Any, provider: OidcProviderProcess, username: str) -> None:
    """The provider's own login form, as a person fills it in."""
    page.wait_for_url(f"{provider.url}/accounts/login/**")
    page.fill("#id_username", username)
    page.fill("#id_password", provider.password)
    page.click("#idp-submit")


def test_oidc_login_through_the_browser_and_role_change_on_next_login(
    oidc_server: tuple[LiveServer, OidcProviderProcess], browser: Any
) -> None:
    live, provider = oidc_server
    claims = {"sub": "olu-1", "email": "olu@example.com", "name": "Olu Oidc", "FLEET_JIT_USER_ROLE_GLOBAL": "observer"}
    username = provider.set_user(claims)
    context = browser.new_context(base_url=live.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/login/?next=/queries/")
    page.click("#sso-oidc")
    _provider_login(page, provider, username)
    page.wait_for_url(f"{live.url}/queries/")
    assert "olu@example.com" in page.request.get(f"{live.url}/account/").text()
    assert _roles(live, "olu@example.com").startswith("observer")

    page.click("form[action='/logout/'] button")
    page.wait_for_url("**/login/**")
    provider.set_user({**claims, "FLEET_JIT_USER_ROLE_GLOBAL": "maintainer"})
    page.goto("/login/?next=/hosts/")
    page.click("#sso-oidc")  # still signed in at the provider: straight back, with the new claims
    page.wait_for_url(f"{live.url}/hosts/")
    assert _roles(live, "olu@example.com").startswith("maintainer")
    context.close()


def test_oidc_state_mismatch_in_the_browser_shows_why(
    oidc_server: tuple[LiveServer, OidcProviderProcess], browser: Any
) -> None:
    """The provider's answer reaches us with another state (as if swapped on the way): refused, and said so.

    Playwright routes only the first request of a redirect chain, so the swap happens at our start
    route: its redirect and the provider's answer are fetched with the browser's own cookies (the
    person is already signed in at the provider), and the browser is sent on to the answer with the
    state replaced.
    """
    live, provider = oidc_server
    username = provider.set_user({"sub": "eve-1", "email": "eve@example.com"})
    context = browser.new_context(base_url=live.url)

    def swap_state(route: Any) -> None:
        started = route.fetch(max_redirects=0)  # the pending login and its cookie, for this browser
        answer = context.request.get(started.headers["location"], max_redirects=0)
        back = urlsplit(answer.headers["location"])
        assert back.path == OIDC_CALLBACK_PATH, answer.headers["location"]
        forged = urlunsplit(back._replace(query=urlencode({**dict(parse_qsl(back.query)), "state": "forged"})))
        route.fulfill(status=302, headers={"Location": forged, "Set-Cookie": started.headers["set-cookie"]})

    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{provider.url}/accounts/login/")
        _provider_login(page, provider, username)
        page.wait_for_url(f"{provider.url}/o/.well-known/openid-configuration")
        context.route(lambda url: url.startswith(f"{live.url}/sso/oidc/start/"), swap_state)
        page.goto("/login/")
        page.click("#sso-oidc")
        page.wait_for_url("**/login/?status=**")
        assert "state mismatch" in page.content()
    finally:
        context.close()


def test_open_redirect_in_next_is_refused_in_the_browser(
    oidc_server: tuple[LiveServer, OidcProviderProcess], browser: Any
) -> None:
    live, _ = oidc_server
    context = browser.new_context(base_url=live.url)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto("/sso/oidc/start/?next=https://evil.example/")
        page.wait_for_url("**/login/?status=error")
        assert "open redirect refused" in page.content()
    finally:
        context.close()
