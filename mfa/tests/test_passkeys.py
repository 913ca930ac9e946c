"""Passkeys as a second factor: registration and login through the real views and py_webauthn's checks.

The authenticator is software (mfa/tests/authenticator.py); the relying party comes from the
public URL, not the address the test client uses, so a passkey made for the request's host fails.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from accounts.models import User
from activities.models import Activity
from conftest import PASSWORD
from mfa import policy
from mfa.models import BrowserSession, LoginChallenge, MFASettings, Passkey, RecoveryCode
from mfa.tests.authenticator import SoftAuthenticator

PUBLIC = "https://fleet.example.com"
RP_ID = "fleet.example.com"


@pytest.fixture(autouse=True)
def _public_url(settings: Any) -> None:
    settings.FLEETSITE_SERVER_URL = PUBLIC


def post_json(client: Client, url: str, body: dict | None = None) -> Any:
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def register(client: Client, user: User, name: str = "YubiKey") -> SoftAuthenticator:
    client.force_login(user)
    options = post_json(client, "/account/mfa/passkeys/options/").json()
    assert options["rp"]["id"] == RP_ID
    device = SoftAuthenticator(RP_ID, PUBLIC)
    response = post_json(client, "/account/mfa/passkeys/", {"name": name, "credential": device.create(options)})
    assert response.status_code == 200, response.content
    client.logout()
    return device


def password_step(client: Client, user: User) -> None:
    response = client.post("/login/", {"email": user.email, "password": PASSWORD, "next": "/hosts/"})
    assert response.status_code == 302 and response["Location"] == "/login/code/"


def login_options(client: Client) -> dict:
    response = post_json(client, "/login/passkey/options/")
    assert response.status_code == 200, response.content
    return response.json()


def logged_in(client: Client) -> bool:
    return client.get("/account/").status_code == 200


def failures(user: User) -> list[str]:
    return [a.details["reason"] for a in Activity.objects.filter(type="user_failed_login", actor=user)]


def test_register_then_log_in_with_the_passkey(client: Client, observer: User) -> None:
    device = register(client, observer)
    key = Passkey.objects.get(user=observer)
    assert key.name == "YubiKey" and key.sign_count == 0
    assert Activity.objects.filter(type="added_mfa_passkey", actor=observer).exists()
    assert RecoveryCode.objects.filter(user=observer).count() == 10  # the first factor makes them
    assert policy.password_login_needs(observer) == policy.SECOND_STEP

    password_step(client, observer)
    page = client.get("/login/code/")
    assert b"passkey-login" in page.content and b"passkeys.js" in page.content
    options = login_options(client)
    assert options["rpId"] == RP_ID
    assert [c["id"] for c in options["allowCredentials"]] == [key.credential_id]
    assert not logged_in(client)
    response = post_json(client, "/login/passkey/", {"credential": device.get(options)})
    assert response.status_code == 200 and response.json() == {"redirect": "/hosts/"}
    assert logged_in(client)
    assert BrowserSession.objects.get(user=observer).method == "password+passkey"
    key.refresh_from_db()
    assert key.sign_count == 1 and key.last_used_at is not None


def test_first_passkey_shows_recovery_codes_once(client: Client, observer: User) -> None:
    client.force_login(observer)
    for name, shows_codes in (("YubiKey", True), ("Laptop", False)):
        options = post_json(client, "/account/mfa/passkeys/options/").json()
        credential = SoftAuthenticator(RP_ID, PUBLIC).create(options)
        assert post_json(client, "/account/mfa/passkeys/", {"name": name, "credential": credential}).status_code == 200
        page = client.get("/account/mfa/")
        assert (b"recovery-codes" in page.content) is shows_codes
    page = client.get("/account/mfa/")
    assert b"Laptop" in page.content and b"YubiKey" in page.content and b"recovery-codes" not in page.content


def test_registration_from_another_origin_or_rp_is_refused(client: Client, observer: User) -> None:
    client.force_login(observer)
    for kwargs, words in (
        ({"origin": "https://evil.example.net"}, b"origin"),
        ({"rp_id": "evil.example.net"}, b"RP ID"),
    ):
        options = post_json(client, "/account/mfa/passkeys/options/").json()
        credential = SoftAuthenticator(RP_ID, PUBLIC).create(options, **kwargs)
        response = post_json(client, "/account/mfa/passkeys/", {"name": "k", "credential": credential})
        assert response.status_code == 422 and words in response.content, response.content
    assert not Passkey.objects.exists()


def test_registration_challenge_is_used_once(client: Client, observer: User) -> None:
    client.force_login(observer)
    options = post_json(client, "/account/mfa/passkeys/options/").json()
    device = SoftAuthenticator(RP_ID, PUBLIC)
    credential = device.create(options)
    assert post_json(client, "/account/mfa/passkeys/", {"name": "", "credential": credential}).status_code == 422
    response = post_json(client, "/account/mfa/passkeys/", {"name": "k", "credential": credential})
    assert response.status_code == 422 and b"expired" in response.content
    assert not Passkey.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"origin": "https://fleet.example.com.evil.net"}, "origin"),
        ({"rp_id": "evil.example.net"}, "RP ID"),
        ({"origin": "http://testserver"}, "origin"),  # the request's own host is not the public URL
    ],
)
def test_assertion_from_a_wrong_origin_or_rp_is_refused(
    client: Client, observer: User, kwargs: dict, words: str
) -> None:
    device = register(client, observer)
    password_step(client, observer)
    response = post_json(client, "/login/passkey/", {"credential": device.get(login_options(client), **kwargs)})
    assert response.status_code == 401 and words in response.json()["error"]
    assert not logged_in(client)
    assert any(words in reason for reason in failures(observer))


def test_replayed_assertion_is_refused(client: Client, observer: User) -> None:
    device = register(client, observer)
    password_step(client, observer)
    used = device.get(login_options(client))
    assert post_json(client, "/login/passkey/", {"credential": used}).status_code == 200
    client.logout()
    # A new login: the old assertion (its challenge spent) is sent again, with and without new options.
    password_step(client, observer)
    response = post_json(client, "/login/passkey/", {"credential": used})
    assert response.status_code == 401 and "already used" in response.json()["error"]
    login_options(client)
    response = post_json(client, "/login/passkey/", {"credential": used})
    assert response.status_code == 401 and "challenge" in response.json()["error"]
    assert not logged_in(client)
    assert len(failures(observer)) == 2


def test_one_assertion_per_challenge_even_after_a_failure(client: Client, observer: User) -> None:
    device = register(client, observer)
    password_step(client, observer)
    options = login_options(client)
    bad = device.get(options, origin="https://evil.example.net")
    assert post_json(client, "/login/passkey/", {"credential": bad}).status_code == 401
    good_but_late = device.get(options)
    assert post_json(client, "/login/passkey/", {"credential": good_but_late}).status_code == 401
    assert not logged_in(client)


def test_a_lower_sign_count_is_refused_as_a_clone(client: Client, observer: User) -> None:
    device = register(client, observer)
    Passkey.objects.filter(user=observer).update(sign_count=7)
    password_step(client, observer)
    response = post_json(client, "/login/passkey/", {"credential": device.get(login_options(client), sign_count=5)})
    assert response.status_code == 401 and "copied" in response.json()["error"]
    assert Passkey.objects.get(user=observer).sign_count == 7
    assert any("copied" in reason for reason in failures(observer))
    response = post_json(client, "/login/passkey/", {"credential": device.get(login_options(client), sign_count=8)})
    assert response.status_code == 200


def test_another_users_passkey_is_refused(client: Client, observer: User, maintainer: User) -> None:
    register(client, observer)
    theirs = register(client, maintainer)
    password_step(client, observer)
    response = post_json(client, "/login/passkey/", {"credential": theirs.get(login_options(client))})
    assert response.status_code == 401 and "not registered to this account" in response.json()["error"]


def test_expired_login_refuses_the_passkey(client: Client, observer: User) -> None:
    from datetime import timedelta

    from django.utils import timezone

    device = register(client, observer)
    password_step(client, observer)
    options = login_options(client)
    LoginChallenge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = post_json(client, "/login/passkey/", {"credential": device.get(options)})
    assert response.status_code == 401 and response.json()["redirect"] == "/login/"
    assert not logged_in(client)


def test_options_need_a_pending_login(client: Client, db: None) -> None:
    assert post_json(client, "/login/passkey/options/").status_code == 401
    assert post_json(client, "/login/passkey/", {}).status_code == 401


def test_remove_asks_for_confirmation(client: Client, observer: User) -> None:
    register(client, observer)
    key = Passkey.objects.get(user=observer)
    client.force_login(observer)
    page = client.get(f"/account/mfa/passkeys/{key.pk}/remove/")
    assert page.status_code == 200 and b"YubiKey" in page.content and b"last second factor" in page.content
    assert client.post(f"/account/mfa/passkeys/{key.pk}/remove/", {"password": "wrong"}).status_code == 422
    assert Passkey.objects.filter(pk=key.pk).exists()
    response = client.post(f"/account/mfa/passkeys/{key.pk}/remove/", {"password": PASSWORD})
    assert response.status_code == 302 and not Passkey.objects.filter(pk=key.pk).exists()
    assert Activity.objects.filter(type="deleted_mfa_passkey", actor=observer).exists()
    assert not RecoveryCode.objects.filter(user=observer).exists()
    assert policy.password_login_needs(observer) is None


def test_others_cannot_remove_my_passkey(client: Client, observer: User, maintainer: User) -> None:
    register(client, observer)
    key = Passkey.objects.get(user=observer)
    client.force_login(maintainer)
    assert client.get(f"/account/mfa/passkeys/{key.pk}/remove/").status_code == 404
    assert client.post(f"/account/mfa/passkeys/{key.pk}/remove/", {"password": PASSWORD}).status_code == 404


def test_required_mfa_counts_a_passkey_and_keeps_the_last_one(client: Client, observer: User) -> None:
    MFASettings.objects.create(pk=1, require_mfa=True)
    assert policy.password_login_needs(observer) == policy.ENROL_FIRST
    register(client, observer)
    assert policy.password_login_needs(observer) == policy.SECOND_STEP
    key = Passkey.objects.get(user=observer)
    client.force_login(observer)
    client.post(f"/account/mfa/passkeys/{key.pk}/remove/", {"password": PASSWORD})
    assert Passkey.objects.filter(pk=key.pk).exists()


def test_admin_turning_mfa_off_removes_passkeys(client: Client, admin: User, observer: User) -> None:
    register(client, observer)
    client.force_login(admin)
    assert client.post(f"/users/{observer.pk}/mfa/remove/").status_code == 302
    assert not Passkey.objects.filter(user=observer).exists()


def test_rest_login_of_a_passkey_only_user_offers_recovery_codes(client: Client, observer: User) -> None:
    from conftest import APIClient
    from mfa import factors

    register(client, observer)
    with transaction.atomic():
        codes = factors.new_recovery_codes(observer)
    api = APIClient()
    started = api.post("/api/latest/fleet/login", {"email": observer.email, "password": PASSWORD, "supports_mfa": True})
    assert started.status_code == 202 and started.json()["mfa_methods"] == ["recovery_code"]
    done = api.post("/api/latest/fleet/sessions", {"token": started.json()["mfa_token"], "code": codes[0]})
    assert done.status_code == 200 and done.json()["token"]


def test_required_mfa_login_can_set_up_a_passkey(client: Client, observer: User) -> None:
    MFASettings.objects.create(pk=1, require_mfa=True)
    response = client.post("/login/", {"email": observer.email, "password": PASSWORD, "next": "/hosts/"})
    assert response["Location"] == "/login/setup/"
    assert b"passkey-add" in client.get("/login/setup/").content
    assert post_json(client, "/account/mfa/passkeys/options/").status_code == 302  # not logged in yet
    options = post_json(client, "/login/setup/passkey/options/").json()
    device = SoftAuthenticator(RP_ID, PUBLIC)
    credential = device.create(options, origin="https://evil.example.net")
    assert post_json(client, "/login/setup/passkey/", {"name": "Key", "credential": credential}).status_code == 422
    assert not logged_in(client)
    options = post_json(client, "/login/setup/passkey/options/").json()
    response = post_json(client, "/login/setup/passkey/", {"name": "Key", "credential": device.create(options)})
    assert response.status_code == 200 and response.json() == {"redirect": "/account/mfa/"}
    page = client.get("/account/mfa/")
    assert b"recovery-codes" in page.content and b'href="/hosts/"' in page.content
    assert BrowserSession.objects.get(user=observer).method == "password+passkey"
    assert not LoginChallenge.objects.exists()
    assert post_json(client, "/login/setup/passkey/options/").status_code == 401
