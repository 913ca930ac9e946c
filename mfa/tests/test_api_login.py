"""REST login with a second factor: Fleet's 202, POST /sessions, and the attacks on it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.choices import TokenKind
from accounts.models import AuthToken, User
from activities.models import Activity
from conftest import PASSWORD, APIClient
from mfa import factors
from mfa.models import LoginChallenge, MFASettings
from mfa.tests.conftest import code_at, enrol

BASE = "/api/latest/fleet"


@pytest.fixture
def anon(db: None) -> APIClient:
    return APIClient()


def start(anon: APIClient, user: User, base: str = BASE) -> Any:
    return anon.post(f"{base}/login", {"email": user.email, "password": PASSWORD, "supports_mfa": True})


def test_login_of_mfa_user_answers_202_without_a_session(anon: APIClient, observer: User) -> None:
    enrol(observer)
    response = start(anon, observer)
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"message", "mfa_token", "mfa_methods"}
    assert "token" not in body
    assert not AuthToken.objects.filter(user=observer).exists()


def test_v1_path_and_fleets_flag_work_too(anon: APIClient, observer: User) -> None:
    enrol(observer)
    response = anon.post(
        "/api/v1/fleet/login",
        {"email": observer.email, "password": PASSWORD, "supports_email_verification": True},
    )
    assert response.status_code == 202


def test_client_that_cannot_do_a_second_step_gets_fleets_400(anon: APIClient, observer: User) -> None:
    enrol(observer)
    response = anon.post(f"{BASE}/login", {"email": observer.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "does not support MFA" in response.json()["errors"][0]["reason"]
    assert not AuthToken.objects.filter(user=observer).exists()


def test_second_step_with_the_code_logs_in(anon: APIClient, observer: User) -> None:
    device = enrol(observer)
    key = start(anon, observer).json()["mfa_token"]
    response = anon.post(f"{BASE}/sessions", {"token": key, "code": code_at(device)})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["user"]["id"] == observer.pk
    assert APIClient(body["token"]).get(f"{BASE}/me").status_code == 200
    assert Activity.objects.filter(type="user_logged_in", actor=observer, details__mfa="totp").exists()
    assert not LoginChallenge.objects.exists()


def test_wrong_code_is_refused_and_recorded(anon: APIClient, observer: User) -> None:
    device = enrol(observer)
    key = start(anon, observer).json()["mfa_token"]
    wrong = "000000" if code_at(device) != "000000" else "111111"
    response = anon.post(f"{BASE}/sessions", {"token": key, "code": wrong})
    assert response.status_code == 401
    assert response.json()["message"] == "Authentication failed"
    assert Activity.objects.filter(type="user_failed_login", actor=observer).exists()
    assert not AuthToken.objects.filter(user=observer).exists()
    # The same challenge may still finish with the right code.
    assert anon.post(f"{BASE}/sessions", {"token": key, "code": code_at(device)}).status_code == 200


def test_a_used_code_is_refused_the_second_time(anon: APIClient, observer: User) -> None:
    device = enrol(observer)
    code = code_at(device)
    first = start(anon, observer).json()["mfa_token"]
    assert anon.post(f"{BASE}/sessions", {"token": first, "code": code}).status_code == 200
    second = start(anon, observer).json()["mfa_token"]
    response = anon.post(f"{BASE}/sessions", {"token": second, "code": code})
    assert response.status_code == 401
    assert "already used" in response.json()["errors"][0]["reason"]
    failure = Activity.objects.filter(type="user_failed_login", actor=observer).latest("id")
    assert "already used" in failure.details["reason"]


def test_a_challenge_is_used_once(anon: APIClient, observer: User) -> None:
    device = enrol(observer)
    key = start(anon, observer).json()["mfa_token"]
    assert anon.post(f"{BASE}/sessions", {"token": key, "code": code_at(device)}).status_code == 200
    later = code_at(device, timezone.now().timestamp() + 30)
    assert anon.post(f"{BASE}/sessions", {"token": key, "code": later}).status_code == 401


def test_expired_challenge_is_refused(anon: APIClient, observer: User) -> None:
    device = enrol(observer)
    key = start(anon, observer).json()["mfa_token"]
    LoginChallenge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = anon.post(f"{BASE}/sessions", {"token": key, "code": code_at(device)})
    assert response.status_code == 401
    assert not LoginChallenge.objects.exists()


def test_too_many_wrong_codes_end_the_challenge(anon: APIClient, observer: User, settings: Any) -> None:
    settings.FLEETSITE_MFA_MAX_ATTEMPTS = 2
    device = enrol(observer)
    key = start(anon, observer).json()["mfa_token"]
    wrong = "000000" if code_at(device) != "000000" else "111111"
    for _ in range(2):
        assert anon.post(f"{BASE}/sessions", {"token": key, "code": wrong}).status_code == 401
    assert anon.post(f"{BASE}/sessions", {"token": key, "code": code_at(device)}).status_code == 401


def test_skipping_the_second_step_gets_nothing(anon: APIClient, observer: User) -> None:
    enrol(observer)
    key = start(anon, observer).json()["mfa_token"]
    assert APIClient(key).get(f"{BASE}/me").status_code == 401  # the challenge key is no session
    assert anon.post(f"{BASE}/sessions", {"token": key}).status_code == 401
    assert anon.post(f"{BASE}/sessions", {"token": "made-up", "code": "123456"}).status_code == 401
    assert not AuthToken.objects.filter(user=observer, kind=TokenKind.SESSION).exists()


def test_recovery_code_works_once(anon: APIClient, observer: User) -> None:
    enrol(observer)
    codes = factors.regenerate_recovery_codes(observer)
    key = start(anon, observer).json()["mfa_token"]
    assert anon.post(f"{BASE}/sessions", {"token": key, "code": codes[0].upper()}).status_code == 200
    key = start(anon, observer).json()["mfa_token"]
    assert anon.post(f"{BASE}/sessions", {"token": key, "code": codes[0]}).status_code == 401
    assert factors.recovery_codes_left(observer) == len(codes) - 1


@pytest.mark.parametrize(
    "body",
    [{"token": ["x"], "code": "1"}, {"token": "x", "code": {"a": 1}}, {"token": "x", "code": "9" * 100}, [1, 2]],
)
def test_bad_input_gets_fleets_error_shape(anon: APIClient, observer: User, body: Any) -> None:
    response = anon.post(f"{BASE}/sessions", body)
    assert 400 <= response.status_code < 500
    assert "message" in response.json() and "errors" in response.json()


def test_required_mfa_refuses_unenrolled_password_login_but_not_api_only(
    anon: APIClient, observer: User, db: None
) -> None:
    MFASettings.objects.create(require_mfa=True)
    response = anon.post(f"{BASE}/login", {"email": observer.email, "password": PASSWORD, "supports_mfa": True})
    assert response.status_code == 403
    assert "second factor" in response.json()["errors"][0]["reason"]
    robot = User.objects.create_user("robot@example.com", PASSWORD, global_role="observer", api_only=True)
    assert anon.post(f"{BASE}/login", {"email": robot.email, "password": PASSWORD}).status_code == 200


def test_throttle_after_a_wrong_code(anon: APIClient, observer: User, settings: Any) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 60
    device = enrol(observer)
    key = start(anon, observer).json()["mfa_token"]
    wrong = "000000" if code_at(device) != "000000" else "111111"
    assert anon.post(f"{BASE}/sessions", {"token": key, "code": wrong}).status_code == 401
    response = anon.post(f"{BASE}/sessions", {"token": key, "code": code_at(device)})
    assert response.status_code == 401
    assert "Too many wrong codes" in response.json()["errors"][0]["reason"]
