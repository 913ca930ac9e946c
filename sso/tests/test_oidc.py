"""OpenID Connect sign-in against a real provider on loopback (issue 18 items 2, 3, 5).

The provider is django-oauth-toolkit in OIDC mode in its own process (`oidc_idp/`). The browser's
path is followed for real: our start route redirects to the provider's authorize endpoint, its
login form signs the user in, it redirects back with a code; our callback redeems the code over
HTTP (PKCE, client secret) and verifies the RS256-signed ID token. Attacks tamper with our side of
the exchange only, as an attacker between the browser and us would: the state in the callback URL,
a code or an ID token taken from another sign-in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from accounts.models import Team, User
from activities.models import Activity
from sso import constants, oidc
from sso.models import SSOSettings
from sso.tests.oidc_idp.process import OidcProviderProcess

Params = dict[str, str]


def provider_answer(client: Client, provider: OidcProviderProcess, claims: dict[str, Any], next_path: str) -> Params:
    """Start at our button, sign in at the provider; the query the provider sends the browser back with."""
    username = provider.set_user(claims)
    start = client.get("/sso/oidc/start/", {"next": next_path})
    assert start.status_code == 302, start.content
    query = parse_qs(urlsplit(start["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    assert "code_verifier" not in query
    back = urlsplit(provider.sign_in(start["Location"], username))
    assert back.path == constants.OIDC_CALLBACK_PATH
    return {k: v[-1] for k, v in parse_qs(back.query).items()}


def sign_in(
    client: Client,
    provider: OidcProviderProcess,
    claims: dict[str, Any],
    next_path: str = "/queries/",
    tamper: Callable[[Params], Params] | None = None,
) -> Any:
    params = provider_answer(client, provider, claims, next_path)
    return client.get(constants.OIDC_CALLBACK_PATH, tamper(params) if tamper else params)


def _refused(client: Client, response: Any, text: str) -> Activity:
    assert response.status_code == 302 and response["Location"].startswith("/login/?status=")
    assert text in client.get(response["Location"]).content.decode()
    failure = Activity.objects.filter(type="user_failed_login").latest("id")
    assert text in failure.details["reason"]
    assert "_auth_user_id" not in client.session
    return failure


@pytest.fixture
def jit(oidc_settings: SSOSettings) -> SSOSettings:
    oidc_settings.enable_jit_provisioning = True
    oidc_settings.save()
    return oidc_settings


def test_oidc_login_with_jit_roles_from_claims(jit: SSOSettings, oidc_provider: OidcProviderProcess) -> None:
    team = Team.objects.create(name="Laptops")
    client = Client()
    claims = {
        "sub": "ola-1",
        "email": "Ola@Example.com",
        "name": "Ola Oidc",
        f"FLEET_JIT_USER_ROLE_TEAM_{team.pk}": "observer",
    }
    response = sign_in(client, oidc_provider, claims)
    assert response.status_code == 302 and response["Location"] == "/queries/"
    user = User.objects.get(email="ola@example.com")
    assert user.name == "Ola Oidc"
    assert dict(user.memberships.values_list("team_id", "role")) == {team.pk: "observer"}
    assert not user.has_usable_password() and user.sso.last_protocol == "oidc" and user.sso.oidc_subject == "ola-1"
    assert Activity.objects.filter(actor=user, type="user_logged_in").exists()
    # Next login: the provider now says global maintainer.
    again = {"sub": "ola-1", "email": "ola@example.com", "FLEET_JIT_USER_ROLE_GLOBAL": "maintainer"}
    assert sign_in(Client(), oidc_provider, again)["Location"] == "/queries/"
    user.refresh_from_db()
    assert user.global_role == "maintainer" and not user.memberships.exists()
    # Another account at the provider claiming the same email is not this user.
    client = Client()
    _refused(client, sign_in(client, oidc_provider, {**again, "sub": "someone-else"}), "subject mismatch")


def test_state_mismatch_is_refused(jit: SSOSettings, oidc_provider: OidcProviderProcess) -> None:
    client = Client()
    response = sign_in(client, oidc_provider, {"email": "eve@example.com"}, tamper=lambda p: {**p, "state": "forged"})
    _refused(client, response, "state mismatch")
    assert not User.objects.filter(email="eve@example.com").exists()


def test_nonce_mismatch_is_refused(
    jit: SSOSettings, oidc_provider: OidcProviderProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ID token the provider really signed, but for another sign-in (its nonce), is not accepted for this one."""
    real_redeem = oidc._redeem
    tokens: list[str] = []

    def keep(*args: Any) -> str:
        tokens.append(real_redeem(*args))
        return tokens[-1]

    monkeypatch.setattr(oidc, "_redeem", keep)
    other = {"sub": "eve-1", "email": "eve@example.com"}
    assert sign_in(Client(), oidc_provider, other)["Location"] == "/queries/"
    assert len(tokens) == 1

    def swap(*args: Any) -> str:
        real_redeem(*args)  # this sign-in's own code is redeemed (PKCE passes), then the other token is used
        return tokens[0]

    monkeypatch.setattr(oidc, "_redeem", swap)
    client = Client()
    failure = _refused(client, sign_in(client, oidc_provider, other), "nonce mismatch")
    assert failure.details["email"] == ""  # the token was refused before anyone was believed


def test_code_from_another_sign_in_is_refused_by_pkce(jit: SSOSettings, oidc_provider: OidcProviderProcess) -> None:
    """Code injection: the attacker's code in the victim's callback fails at the provider (wrong PKCE verifier)."""
    attacker = provider_answer(Client(), oidc_provider, {"sub": "mallory-1", "email": "mallory@example.com"}, "/")
    client = Client()
    victim = {"sub": "vic-1", "email": "vic@example.com"}
    response = sign_in(client, oidc_provider, victim, tamper=lambda p: {**p, "code": attacker["code"]})
    _refused(client, response, "did not accept the authorization code")
    assert not User.objects.filter(email__in=["mallory@example.com", "vic@example.com"]).exists()


def test_callback_without_a_started_login_is_refused(oidc_settings: SSOSettings) -> None:
    client = Client()
    response = client.get(constants.OIDC_CALLBACK_PATH, {"code": "x", "state": "y"})
    _refused(client, response, "not started from this browser")


def test_unknown_user_without_jit_is_refused(oidc_settings: SSOSettings, oidc_provider: OidcProviderProcess) -> None:
    client = Client()
    _refused(client, sign_in(client, oidc_provider, {"email": "nobody@example.com"}), "no Fleetsite account")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_open_redirect_in_next_is_refused_before_the_provider(
    jit: SSOSettings, oidc_provider: OidcProviderProcess, target: str
) -> None:
    client = Client()
    response = client.get("/sso/oidc/start/", {"next": target})
    failure = _refused(client, response, "open redirect refused")
    assert repr(target) in failure.details["reason"]
    assert "fleetsite_sso" not in response.cookies or not response.cookies["fleetsite_sso"].value


def test_next_may_be_a_full_url_of_this_server(jit: SSOSettings, oidc_provider: OidcProviderProcess) -> None:
    response = sign_in(Client(), oidc_provider, {"email": "own@example.com"}, "http://testserver/hosts/?status=online")
    assert response["Location"] == "/hosts/?status=online"


def test_login_page_shows_the_buttons(oidc_settings: SSOSettings) -> None:
    page = Client().get("/login/?next=/hosts/").content.decode()
    assert "Sign in with Test OIDC" in page and "/sso/oidc/start/?next=%2Fhosts%2F" in page
    assert "sso-saml" not in page
