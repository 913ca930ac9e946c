"""OpenID Connect sign-in against a small real provider on loopback (issue 18 items 2, 3, 5).

The browser's path is followed for real: our start route redirects to the provider's authorize
endpoint, which redirects back with a code; our callback redeems it over HTTP (PKCE, client secret)
and verifies the signed ID token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from django.test import Client

from accounts.models import Team, User
from activities.models import Activity
from sso.models import SSOSettings
from sso.tests.providers import OidcProvider


def sign_in(client: Client, provider: OidcProvider, user: dict[str, Any], next_path: str = "/queries/") -> Any:
    provider.next_user = user
    start = client.get("/sso/oidc/start/", {"next": next_path})
    assert start.status_code == 302
    query = parse_qs(urlsplit(start["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    assert "code_verifier" not in query
    back = httpx.get(start["Location"], follow_redirects=False)
    assert back.status_code == 302
    location = urlsplit(back.headers["Location"])
    assert location.path == "/sso/oidc/callback/"
    return client.get(location.path, {k: v[-1] for k, v in parse_qs(location.query).items()})


def test_oidc_login_with_jit_roles_from_claims(oidc_settings: SSOSettings, oidc_provider: OidcProvider) -> None:
    oidc_settings.enable_jit_provisioning = True
    oidc_settings.save()
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
    assert dict(user.memberships.values_list("team_id", "role")) == {team.pk: "observer"}
    assert not user.has_usable_password() and user.sso.last_protocol == "oidc"
    request = oidc_provider.token_requests[-1]
    assert request["code_verifier"] and request["client_secret"] == oidc_provider.client_secret
    assert Activity.objects.filter(actor=user, type="user_logged_in").exists()
    # Next login: the claim now says global maintainer.
    again = {"sub": "ola-1", "email": "ola@example.com", "FLEET_JIT_USER_ROLE_GLOBAL": "maintainer"}
    assert sign_in(Client(), oidc_provider, again)["Location"] == "/queries/"
    user.refresh_from_db()
    assert user.global_role == "maintainer" and not user.memberships.exists()
    # Another account at the provider claiming the same email is not this user.
    client = Client()
    _refused(client, sign_in(client, oidc_provider, {**again, "sub": "someone-else"}), "subject mismatch")


def _refused(client: Client, response: Any, text: str) -> None:
    assert response.status_code == 302 and response["Location"].startswith("/login/?status=")
    assert text in client.get(response["Location"]).content.decode()
    failure = Activity.objects.filter(type="user_failed_login").latest("id")
    assert text in failure.details["reason"]
    assert "_auth_user_id" not in client.session


def test_state_mismatch_is_refused(oidc_settings: SSOSettings, oidc_provider: OidcProvider) -> None:
    oidc_settings.enable_jit_provisioning = True
    oidc_settings.save()
    oidc_provider.tamper_state = True
    client = Client()
    _refused(client, sign_in(client, oidc_provider, {"email": "eve@example.com"}), "state mismatch")
    assert not User.objects.filter(email="eve@example.com").exists()


def test_nonce_mismatch_is_refused(oidc_settings: SSOSettings, oidc_provider: OidcProvider) -> None:
    oidc_settings.enable_jit_provisioning = True
    oidc_settings.save()
    oidc_provider.tamper_nonce = True
    client = Client()
    _refused(client, sign_in(client, oidc_provider, {"email": "eve@example.com"}), "nonce mismatch")


def test_callback_without_a_started_login_is_refused(oidc_settings: SSOSettings) -> None:
    client = Client()
    response = client.get("/sso/oidc/callback/", {"code": "x", "state": "y"})
    _refused(client, response, "not started from this browser")


def test_unknown_user_without_jit_is_refused(oidc_settings: SSOSettings, oidc_provider: OidcProvider) -> None:
    client = Client()
    _refused(client, sign_in(client, oidc_provider, {"email": "nobody@example.com"}), "no Fleetsite account")


def test_open_redirect_in_next_is_dropped(oidc_settings: SSOSettings, oidc_provider: OidcProvider) -> None:
    oidc_settings.enable_jit_provisioning = True
    oidc_settings.save()
    response = sign_in(Client(), oidc_provider, {"email": "r@example.com"}, next_path="https://evil.example/")
    assert response["Location"] == "/"


def test_login_page_shows_the_buttons(oidc_settings: SSOSettings) -> None:
    page = Client().get("/login/?next=/hosts/").content.decode()
    assert "Sign in with Test OIDC" in page and "/sso/oidc/start/?next=%2Fhosts%2F" in page
    assert "sso-saml" not in page
