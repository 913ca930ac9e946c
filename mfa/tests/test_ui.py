"""Web UI: the login's code step, enrolment (QR), removal, the setting, and sessions users can see and end."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuthToken, User
from accounts.tokens import issue_session
from activities.models import Activity
from conftest import PASSWORD, APIClient
from mfa.models import BrowserSession, LoginChallenge, MFASettings
from mfa.tests.conftest import code_at, enrol


def password_step(client: Client, user: User, next_url: str = "/hosts/") -> Any:
    return client.post("/login/", {"email": user.email, "password": PASSWORD, "next": next_url})


def logged_in(client: Client) -> bool:
    return client.get("/account/").status_code == 200


def test_password_then_code_logs_in(client: Client, observer: User) -> None:
    device = enrol(observer)
    response = password_step(client, observer)
    assert response.status_code == 302 and response["Location"] == "/login/code/"
    assert not logged_in(client)  # skipping the second step gets nothing
    response = client.post("/login/code/", {"code": code_at(device)})
    assert response.status_code == 302 and response["Location"] == "/hosts/"
    assert logged_in(client)
    assert BrowserSession.objects.get(user=observer).method == "password+totp"


def test_wrong_code_shows_an_error_then_the_right_one_passes(client: Client, observer: User) -> None:
    device = enrol(observer)
    password_step(client, observer)
    wrong = "000000" if code_at(device) != "000000" else "111111"
    response = client.post("/login/code/", {"code": wrong})
    assert response.status_code == 401
    assert b"not right" in response.content
    assert not logged_in(client)
    assert client.post("/login/code/", {"code": code_at(device)}).status_code == 302
    assert logged_in(client)


def test_a_used_code_is_refused_with_a_clear_message_and_recorded(observer: User) -> None:
    device = enrol(observer)
    code = code_at(device)
    first = Client()
    password_step(first, observer)
    assert first.post("/login/code/", {"code": code}).status_code == 302
    second = Client()  # someone who saw the code, with the password too
    password_step(second, observer)
    response = second.post("/login/code/", {"code": code})
    assert response.status_code == 401
    assert "That code was already used" in response.content.decode()
    assert not logged_in(second)
    failure = Activity.objects.filter(type="user_failed_login", actor=observer).latest("id")
    assert "already used" in failure.details["reason"]


def test_open_redirect_in_next_is_refused_before_password_and_code(client: Client, observer: User) -> None:
    enrol(observer)
    page = client.get("/login/", {"next": "https://evil.example/"}).content.decode()
    assert "not a page of this server" in page and 'name="next" value="/"' in page
    response = client.post("/login/", {"email": observer.email, "password": PASSWORD, "next": "https://evil.example/"})
    assert response.status_code == 200
    assert "open redirect refused" in response.content.decode()
    assert not LoginChallenge.objects.exists()  # the second step never started
    assert not logged_in(client)
    failure = Activity.objects.filter(type="user_failed_login", actor=observer).latest("id")
    assert "'https://evil.example/'" in failure.details["reason"] and failure.details["email"] == observer.email
    # The page now carries a local next: the same person logs in normally.
    assert password_step(client, observer, "/hosts/")["Location"] == "/login/code/"


def test_code_page_without_the_password_step_sends_to_login(client: Client, db: None) -> None:
    response = client.get("/login/code/")
    assert response.status_code == 302 and response["Location"] == "/login/"


def test_expired_sign_in_starts_over(client: Client, observer: User) -> None:
    from datetime import timedelta

    from django.utils import timezone

    device = enrol(observer)
    password_step(client, observer)
    LoginChallenge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post("/login/code/", {"code": code_at(device)})
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert not logged_in(client)


def test_required_mfa_sets_one_up_during_login(client: Client, observer: User) -> None:
    MFASettings.objects.create(require_mfa=True)
    response = password_step(client, observer)
    assert response["Location"] == "/login/setup/"
    page = client.get("/login/setup/")
    assert page.status_code == 200 and b"<svg" in page.content
    device = TOTPDevice.objects.get(user=observer, confirmed=False)
    response = client.post("/login/setup/", {"code": code_at(device)})
    assert response.status_code == 200 and b"recovery codes" in response.content
    assert logged_in(client)
    assert TOTPDevice.objects.get(user=observer).confirmed
    assert Activity.objects.filter(type="enabled_mfa", actor=observer).exists()


def test_account_enrol_and_remove(client: Client, observer: User) -> None:
    client.force_login(observer)
    page = client.get("/account/mfa/")
    assert page.status_code == 200 and b"<svg" in page.content
    device = TOTPDevice.objects.get(user=observer)
    assert client.post("/account/mfa/", {"action": "confirm", "code": "12"}).status_code == 422
    response = client.post("/account/mfa/", {"action": "confirm", "code": code_at(device)})
    assert response.status_code == 200 and b"recovery-codes" in response.content
    assert client.post("/account/mfa/", {"action": "remove", "password": "wrong"}).status_code == 422
    assert TOTPDevice.objects.filter(user=observer).exists()
    assert client.post("/account/mfa/", {"action": "remove", "password": PASSWORD}).status_code == 302
    assert not TOTPDevice.objects.filter(user=observer).exists()
    assert Activity.objects.filter(type="disabled_mfa", actor=observer).exists()


def test_mfa_setting_is_for_admins(client: Client, admin: User, observer: User) -> None:
    client.force_login(observer)
    assert client.post("/settings/mfa/", {"require_mfa": "on"}).status_code == 403
    client.force_login(admin)
    assert client.post("/settings/mfa/", {"require_mfa": "on"}).status_code == 302
    assert MFASettings.load().require_mfa
    assert Activity.objects.filter(type="edited_mfa_settings").exists()


def test_user_lists_and_ends_own_sessions(observer: User) -> None:
    first, second = Client(), Client()
    for client in (first, second):
        password_step(client, observer)
    token = issue_session(observer)
    page = first.get("/account/sessions/")
    assert page.status_code == 200
    assert len(page.context["browser_sessions"]) == 2 and len(page.context["api_sessions"]) == 1
    other = next(s for s in page.context["browser_sessions"] if s.session_key != first.session.session_key)
    first.post("/account/sessions/", {"action": "end_browser", "session_id": other.pk})
    assert not logged_in(second) and logged_in(first)
    first.post("/account/sessions/", {"action": "end_api", "session_id": page.context["api_sessions"][0].pk})
    assert APIClient(token).get("/api/latest/fleet/me").status_code == 401


def test_someone_elses_session_cannot_be_ended(observer: User, maintainer: User) -> None:
    victim = Client()
    password_step(victim, maintainer)
    attacker = Client()
    attacker.force_login(observer)
    row = BrowserSession.objects.get(user=maintainer)
    attacker.post("/account/sessions/", {"action": "end_browser", "session_id": row.pk})
    assert logged_in(victim)


@pytest.mark.parametrize("how", ["ui", "rest"])
def test_admin_ends_all_of_a_users_sessions(admin: User, observer: User, how: str) -> None:
    browser = Client()
    password_step(browser, observer)
    issue_session(observer)
    if how == "ui":
        admin_client = Client()
        admin_client.force_login(admin)
        assert admin_client.post(f"/users/{observer.pk}/sessions/end/").status_code == 302
    else:
        response = APIClient(issue_session(admin)).delete(f"/api/latest/fleet/users/{observer.pk}/sessions")
        assert response.status_code == 200
    assert not logged_in(browser)
    assert not AuthToken.objects.filter(user=observer, kind="session").exists()


def test_admin_turns_off_a_lost_second_factor(client: Client, admin: User, observer: User) -> None:
    enrol(observer)
    client.force_login(admin)
    assert client.post(f"/users/{observer.pk}/mfa/remove/").status_code == 302
    assert not TOTPDevice.objects.filter(user=observer).exists()
    assert password_step(Client(), observer)["Location"] == "/hosts/"
