"""SAML single sign-on against a real pysaml2 IdP on loopback (issue 18 items 1, 3, 5).

The service provider is this Django app in-process (the test client); the IdP answers real HTTP.
Each test follows the real redirect to the IdP, its login form and its auto-posting response form.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.test import Client

from accounts.models import Team, User
from activities.models import Activity
from sso import flow
from sso.models import SSOSettings, SSOUser
from sso.tests.conftest import SP_ENTITY_ID
from sso.tests.providers import SamlIdP, form_fields

ACS = "/api/v1/fleet/sso/callback"


def idp_response(idp: SamlIdP, client: Client, email: str, next_path: str = "/hosts/") -> dict[str, str]:
    """Start at the login page's button, sign in at the IdP; the form the IdP posts back to us."""
    start = client.get("/sso/saml/start/", {"next": next_path})
    assert start.status_code == 302, start.content
    location = start["Location"]
    assert location.startswith(idp.server.url + "/sso?")
    assert "SAMLRequest" in parse_qs(urlsplit(location).query)
    with httpx.Client() as browser:
        login_form = browser.get(location)
        action, fields = form_fields(login_form.text)
        posted = browser.post(idp.server.url + action, data={**fields, "email": email})
    action, fields = form_fields(posted.text)
    assert urlsplit(action).path == ACS
    return fields


def post_back(client: Client, fields: dict[str, str]) -> Any:
    return client.post(ACS, fields)


def last_failure() -> Activity:
    return Activity.objects.filter(type="user_failed_login").latest("id")


def failure_message(client: Client, response: Any) -> str:
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?status=")
    page = client.get(response["Location"])
    return page.content.decode()


def test_sp_initiated_login_jit_with_roles_then_role_change(saml_settings: SSOSettings, idp: SamlIdP) -> None:
    team = Team.objects.create(name="Servers")
    saml_settings.enable_jit_provisioning = True
    saml_settings.save()
    idp.users["new@example.com"] = {"displayname": ["Nina New"], f"FLEET_JIT_USER_ROLE_TEAM_{team.pk}": ["maintainer"]}
    client = Client()
    response = post_back(client, idp_response(idp, client, "new@example.com"))
    assert response.status_code == 302 and response["Location"] == "/hosts/"
    user = User.objects.get(email="new@example.com")
    assert user.name == "Nina New" and not user.global_role
    assert dict(user.memberships.values_list("team_id", "role")) == {team.pk: "maintainer"}
    assert not user.has_usable_password()
    assert SSOUser.objects.get(user=user).sso_enabled
    assert client.get("/api/latest/fleet/me").status_code in (200, 401)  # the UI session is what counts
    assert client.get("/hosts/").status_code == 200
    types = list(Activity.objects.filter(actor=user).values_list("type", flat=True))
    assert "user_added_by_sso" in types and "user_logged_in" in types

    # The IdP now says global observer+: the next login applies it.
    idp.users["new@example.com"] = {
        "FLEET_JIT_USER_ROLE_GLOBAL": ["observer_plus"],
        "FLEET_JIT_USER_ROLE_TEAM_9": ["null"],
    }
    second = Client()
    assert post_back(second, idp_response(idp, second, "new@example.com"))["Location"] == "/hosts/"
    user.refresh_from_db()
    assert user.global_role == "observer_plus" and not user.memberships.exists()


def test_jit_without_role_attributes_is_global_observer(saml_settings: SSOSettings, idp: SamlIdP) -> None:
    saml_settings.enable_jit_provisioning = True
    saml_settings.save()
    client = Client()
    post_back(client, idp_response(idp, client, "plain@example.com", "/"))
    assert User.objects.get(email="plain@example.com").global_role == "observer"


def test_unknown_user_without_jit_is_refused(saml_settings: SSOSettings, idp: SamlIdP) -> None:
    client = Client()
    response = post_back(client, idp_response(idp, client, "stranger@example.com"))
    assert response["Location"] == "/login/?status=account_invalid"
    assert "no Fleetsite account for stranger@example.com" in failure_message(client, response)
    assert not User.objects.filter(email="stranger@example.com").exists()
    assert last_failure().details["email"] == "stranger@example.com"


def test_existing_user_needs_sso_enabled_and_then_loses_password_login(
    saml_settings: SSOSettings, idp: SamlIdP
) -> None:
    user = User.objects.create_user("olive@example.com", "pw-Long-enough-1", global_role="observer")
    client = Client()
    response = post_back(client, idp_response(idp, client, "olive@example.com"))
    assert response["Location"] == "/login/?status=account_disabled"
    SSOUser.objects.create(user=user, sso_enabled=True)
    client = Client()
    assert post_back(client, idp_response(idp, client, "olive@example.com"))["Location"] == "/hosts/"
    # Fleet: password login is disabled for SSO users, in the UI and over REST.
    page = Client().post("/login/", {"email": "olive@example.com", "password": "pw-Long-enough-1"})
    assert "signs in with single sign-on" in page.content.decode()
    api = Client().post(
        "/api/v1/fleet/login",
        {"email": "olive@example.com", "password": "pw-Long-enough-1"},
        content_type="application/json",
    )
    assert api.status_code == 401


def test_require_sso_refuses_password_login_except_admins(saml_settings: SSOSettings) -> None:
    User.objects.create_user("obs@example.com", "pw-Long-enough-1", global_role="observer")
    User.objects.create_superuser("root@example.com", "pw-Long-enough-1")
    saml_settings.require_sso = True
    saml_settings.save()
    refused = Client().post("/login/", {"email": "obs@example.com", "password": "pw-Long-enough-1"})
    assert "requires single sign-on" in refused.content.decode()
    admin = Client().post("/login/", {"email": "root@example.com", "password": "pw-Long-enough-1"})
    assert admin.status_code == 302


def _prepared(saml_settings: SSOSettings) -> None:
    saml_settings.enable_jit_provisioning = True
    saml_settings.save()


@pytest.mark.parametrize(
    ("knob", "message"),
    [
        ({"sign_assertion": False}, "is not signed"),
        ({"rogue": True}, "signature does not match"),
        ({"audience": "https://other-sp.example.com"}, "wrong audience"),
        ({"clock_offset": -3600}, "has expired"),
    ],
    ids=["unsigned", "resigned-by-other-key", "wrong-audience", "expired"],
)
def test_bad_assertions_are_refused(saml_settings: SSOSettings, idp: SamlIdP, knob: dict, message: str) -> None:
    _prepared(saml_settings)
    for name, value in knob.items():
        setattr(idp, name, value)
    client = Client()
    response = post_back(client, idp_response(idp, client, "mallory@example.com"))
    assert response["Location"] == "/login/?status=error"
    assert message in failure_message(client, response)
    assert not User.objects.filter(email="mallory@example.com").exists()
    assert message in last_failure().details["reason"]
    assert "_auth_user_id" not in client.session


def test_replayed_assertion_is_refused(saml_settings: SSOSettings, idp: SamlIdP) -> None:
    _prepared(saml_settings)
    saml_settings.enable_sso_idp_login = True  # else the replay fails earlier, as unsolicited
    saml_settings.save()
    client = Client()
    fields = idp_response(idp, client, "replay@example.com")
    assert post_back(client, fields)["Location"] == "/hosts/"
    attacker = Client()
    response = post_back(attacker, fields)
    assert "already used (replayed)" in failure_message(attacker, response)
    assert "replayed" in last_failure().details["reason"]


def test_idp_initiated_login_only_when_enabled_and_relay_state_stays_local(
    saml_settings: SSOSettings, idp: SamlIdP
) -> None:
    _prepared(saml_settings)
    acs = "http://testserver" + ACS
    _, fields = form_fields(idp.response_form("idp@example.com", None, SP_ENTITY_ID, "/queries/", acs))
    client = Client()
    response = post_back(client, fields)
    assert "IdP-initiated sign-in is off" in failure_message(client, response)

    saml_settings.enable_sso_idp_login = True
    saml_settings.save()
    _, fields = form_fields(idp.response_form("idp@example.com", None, SP_ENTITY_ID, "https://evil.example/", acs))
    client = Client()
    response = post_back(client, fields)
    assert response["Location"] == "/login/?status=error"
    assert "open redirect refused" in failure_message(client, response)
    failure = last_failure()
    assert failure.details["email"] == "idp@example.com" and "'https://evil.example/'" in failure.details["reason"]
    assert not User.objects.filter(email="idp@example.com").exists()  # refused before JIT
    _, fields = form_fields(idp.response_form("idp@example.com", None, SP_ENTITY_ID, "/queries/", acs))
    assert post_back(Client(), fields)["Location"] == "/queries/"
    # An IdP's default RelayState is often a full URL of this server: that is its path.
    full = "http://testserver/hosts/?status=online"
    _, fields = form_fields(idp.response_form("idp@example.com", None, SP_ENTITY_ID, full, acs))
    assert post_back(Client(), fields)["Location"] == "/hosts/?status=online"


OPEN_REDIRECTS = ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "/\\evil.example"]


@pytest.mark.parametrize("relay", OPEN_REDIRECTS)
def test_open_redirect_at_the_start_is_refused_and_recorded(saml_settings: SSOSettings, relay: str) -> None:
    api = Client().post("/api/v1/fleet/sso", {"relay_url": relay}, content_type="application/json")
    assert api.status_code == 400
    assert "invalid sso redirect url" in api.json()["message"] + str(api.json()["errors"])
    assert "open redirect refused" in last_failure().details["reason"]
    client = Client()
    start = client.get("/sso/saml/start/", {"next": relay})
    assert start["Location"] == "/login/?status=error"  # never sent on to the IdP
    assert "open redirect refused" in failure_message(client, start)
    assert repr(relay) in last_failure().details["reason"]
    assert Activity.objects.filter(type="user_failed_login").count() == 2


@pytest.mark.parametrize("relay", OPEN_REDIRECTS[:2])
def test_relay_state_swapped_on_the_way_back_is_refused(saml_settings: SSOSettings, idp: SamlIdP, relay: str) -> None:
    """The IdP echoed our local RelayState; someone changed it before the post reached us."""
    user = User.objects.create_user("x@example.com", None, global_role="observer")
    SSOUser.objects.create(user=user)
    client = Client()
    fields = idp_response(idp, client, "x@example.com", "/hosts/")
    assert fields["RelayState"] == "/hosts/"
    response = post_back(client, {**fields, "RelayState": relay})
    assert response["Location"] == "/login/?status=error"
    assert "open redirect refused" in failure_message(client, response)
    failure = last_failure()
    assert failure.actor == user and repr(relay) in failure.details["reason"]
    assert "_auth_user_id" not in client.session


def test_fleet_api_routes(saml_settings: SSOSettings, idp: SamlIdP) -> None:
    client = Client()
    settings = client.get("/api/v1/fleet/sso").json()["settings"]
    assert settings["idp_name"] == "Test IdP" and settings["sso_enabled"] is True
    started = client.post("/api/v1/fleet/sso", {"relay_url": "/dashboard"}, content_type="application/json")
    assert started.status_code == 200
    assert started.json()["url"].startswith(idp.server.url + "/sso?SAMLRequest=")
    assert "fleetsite_sso" in started.cookies
    saml_settings.enable_sso = False
    saml_settings.save()
    off = client.post("/api/v1/fleet/sso", {}, content_type="application/json")
    assert off.status_code == 400 and off.json()["message"] == "organization not configured to use sso"
    callback = client.post(ACS, {"SAMLResponse": "x"})
    assert callback["Location"] == "/login/?status=org_disabled"


def test_sp_metadata_names_our_entity_and_acs(saml_settings: SSOSettings, idp: SamlIdP) -> None:
    from saml2.mdstore import MetadataStore

    response = Client().get("/sso/saml/metadata/")
    assert response.status_code == 200 and response["Content-Type"] == "application/samlmetadata+xml"
    body = response.content.decode()
    assert f'entityID="{SP_ENTITY_ID}"' in body
    assert 'WantAssertionsSigned="true"' in body
    assert f'Location="{flow.acs_url()}"' in body
    assert "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" in body
    # It is metadata pysaml2 itself can load: an IdP could import it as is.
    store = MetadataStore(None, None)
    store.load("inline", body)
    assert list(store.with_descriptor("spsso")) == [SP_ENTITY_ID]


def test_sp_metadata_waits_for_an_entity_id(db: Any) -> None:
    response = Client().get("/sso/saml/metadata/")
    assert response.status_code == 404 and b"entity ID" in response.content
