"""Login lock-outs per account and per client address (issue 12, finding 2).

Every way of checking a password or asking for a reset link shares one set of counters:
the UI form, the REST login (every version), the Django admin login and password resets.
"""

from __future__ import annotations

import io
import time
from typing import Any

import orjson
import pytest
from django.core.management import call_command
from django.test import Client

from accounts.api.views import LoginView
from accounts.models import User
from activities.models import Activity
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

LIMIT = 10


@pytest.fixture(autouse=True)
def _lockout_settings(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lock-out alone: without the REST login's request-rate throttles, which answer 429 too."""
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.FLEETSITE_LOGIN_LOCKOUT_SECONDS = 900
    monkeypatch.setattr(LoginView, "throttle_classes", [])


def rest_login(email: str, password: str, version: str = "latest", peer: str = "198.51.100.7", **headers: str) -> Any:
    body = orjson.dumps({"email": email, "password": password})
    return Client().post(
        f"/api/{version}/fleet/login", body, content_type="application/json", REMOTE_ADDR=peer, headers=headers
    )


def ui_login(client: Client, email: str, password: str, peer: str = "198.51.100.7") -> Any:
    return client.post("/login/", {"email": email, "password": password}, REMOTE_ADDR=peer)


def body_of(response: Any) -> Any:
    return orjson.loads(response.content)


def test_spraying_with_rotating_forwarded_for_and_emails_is_limited(admin: User) -> None:
    """One peer cannot pose as many clients: without a configured proxy X-Forwarded-For is ignored."""
    for attempt in range(LIMIT):
        response = rest_login(f"user{attempt}@example.com", "wrong", **{"X-Forwarded-For": f"203.0.113.{attempt}"})
        assert response.status_code == 401, attempt
    response = rest_login("admin@example.com", PASSWORD, **{"X-Forwarded-For": "203.0.113.200"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    body = body_of(response)
    assert body["message"] == "Too Many Requests"
    assert "Too many failed attempts" in body["errors"][0]["reason"]


@pytest.mark.parametrize("version", ["latest", "v1"])
def test_rest_account_is_locked_across_addresses(admin: User, version: str) -> None:
    """Password spraying against one account from many addresses locks the account."""
    for attempt in range(LIMIT):
        assert (
            rest_login("admin@example.com", f"guess {attempt}", version, peer=f"198.51.100.{attempt}").status_code
            == 401
        )
    response = rest_login("admin@example.com", PASSWORD, version, peer="198.51.100.250")
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert "Too many failed attempts" in body_of(response)["errors"][0]["reason"]


def test_twenty_wrong_ui_passwords_then_the_right_one_is_refused(admin: User) -> None:
    client = Client()
    for attempt in range(20):
        response = ui_login(client, "admin@example.com", f"guess {attempt}")
        assert response.status_code in (200, 429), attempt
    response = ui_login(client, "admin@example.com", PASSWORD)
    assert response.status_code == 429
    assert b"Too many failed attempts" in response.content
    assert "_auth_user_id" not in client.session
    assert client.get("/hosts/").status_code == 302  # still not logged in


def test_ui_says_so_from_the_attempt_that_reaches_the_limit(admin: User) -> None:
    client = Client()
    for _ in range(LIMIT - 1):
        response = ui_login(client, "admin@example.com", "wrong")
        assert response.status_code == 200
        assert b"Wrong email or password" in response.content
    response = ui_login(client, "admin@example.com", "wrong")
    assert response.status_code == 429
    assert b"Too many failed attempts. Try again in 15 minutes." in response.content
    assert response["Retry-After"] == "900"


def test_ui_lockout_is_per_address_too(admin: User) -> None:
    client = Client()
    for attempt in range(LIMIT):
        ui_login(client, f"user{attempt}@example.com", "wrong", peer="198.51.100.9")
    assert ui_login(client, "admin@example.com", PASSWORD, peer="198.51.100.9").status_code == 429
    # Another address may still log in to an account that was not attacked.
    assert ui_login(Client(), "admin@example.com", PASSWORD, peer="198.51.100.10").status_code == 302


def test_a_name_spelled_like_an_address_does_not_lock_that_address(admin: User) -> None:
    for attempt in range(LIMIT + 1):
        rest_login("198.51.100.7", "wrong", peer=f"203.0.113.{attempt}")
    assert rest_login("admin@example.com", PASSWORD, peer="198.51.100.7").status_code == 200


def test_ui_and_rest_share_the_account_counter(admin: User) -> None:
    client = Client()
    for attempt in range(LIMIT // 2):
        ui_login(client, "admin@example.com", "wrong", peer=f"198.51.100.{attempt}")
        rest_login("ADMIN@example.com", "wrong", peer=f"198.51.100.{100 + attempt}")
    assert ui_login(client, "admin@example.com", PASSWORD, peer="198.51.100.250").status_code == 429


def test_admin_login_is_limited(admin: User) -> None:
    User.objects.filter(pk=admin.pk).update(is_staff=True, is_superuser=True)
    client = Client()
    for _ in range(LIMIT):
        client.post("/admin/login/", {"username": "admin@example.com", "password": "wrong"}, REMOTE_ADDR="198.51.100.7")
    response = client.post(
        "/admin/login/", {"username": "admin@example.com", "password": PASSWORD}, REMOTE_ADDR="198.51.100.7"
    )
    assert response.status_code == 429
    assert b"Too many failed attempts" in response.content
    assert "_auth_user_id" not in client.session


def rest_forgot_password(email: str, peer: str = "198.51.100.7") -> Any:
    return Client().post(
        "/api/latest/fleet/forgot_password",
        orjson.dumps({"email": email}),
        content_type="application/json",
        REMOTE_ADDR=peer,
    )


def test_rest_forgot_password_is_limited(admin: User, mailoutbox: list) -> None:
    for _ in range(LIMIT):
        assert rest_forgot_password("admin@example.com").status_code == 200
    response = rest_forgot_password("admin@example.com", peer="198.51.100.8")
    assert response.status_code == 429
    assert "Retry-After" in response
    assert body_of(response)["message"] == "Too Many Requests"
    assert len(mailoutbox) == LIMIT


def test_the_reset_request_that_reaches_the_limit_is_still_answered(admin: User, mailoutbox: list) -> None:
    client = Client()
    for attempt in range(LIMIT - 1):
        client.post("/password/reset/", {"email": f"user{attempt}@example.com"}, REMOTE_ADDR="198.51.100.7")
    response = client.post("/password/reset/", {"email": "admin@example.com"}, REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 302  # its link was sent, so the page must say so
    assert len(mailoutbox) == 1


def test_ui_password_reset_is_limited(admin: User, mailoutbox: list) -> None:
    client = Client()
    for attempt in range(LIMIT):
        client.post("/password/reset/", {"email": f"user{attempt}@example.com"}, REMOTE_ADDR="198.51.100.7")
    response = client.post("/password/reset/", {"email": "admin@example.com"}, REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 429
    assert b"Too many failed attempts" in response.content
    assert mailoutbox == []


def test_a_configured_proxys_forwarded_for_is_honoured(admin: User, settings: Any) -> None:
    settings.FLEETSITE_TRUSTED_PROXIES = ["10.0.0.0/8"]
    for attempt in range(LIMIT):
        response = rest_login(
            f"user{attempt}@example.com", "wrong", peer="10.0.0.2", **{"X-Forwarded-For": "203.0.113.5"}
        )
        assert response.status_code == 401
    # The address behind the proxy is locked out; another client behind the same proxy is not.
    locked = rest_login("admin@example.com", PASSWORD, peer="10.0.0.2", **{"X-Forwarded-For": "203.0.113.5"})
    assert locked.status_code == 429
    other = rest_login("admin@example.com", PASSWORD, peer="10.0.0.2", **{"X-Forwarded-For": "203.0.113.6"})
    assert other.status_code == 200


def test_a_lockout_is_recorded_once_as_an_activity(admin: User) -> None:
    for attempt in range(LIMIT + 3):
        rest_login("admin@example.com", "wrong", peer=f"198.51.100.{attempt}")
    activities = list(Activity.objects.filter(type="user_locked_out"))
    assert len(activities) == 1
    activity = activities[0]
    assert activity.actor_id == admin.pk
    assert activity.details["email"] == "admin@example.com"
    assert activity.details["failures"] == LIMIT
    assert activity.details["locked_for_seconds"] == 900


def test_a_lockout_expires_and_the_next_one_lasts_longer(admin: User, settings: Any) -> None:
    settings.FLEETSITE_LOGIN_LOCKOUT_SECONDS = 1
    for _ in range(LIMIT):
        rest_login("admin@example.com", "wrong")
    first = rest_login("admin@example.com", PASSWORD)
    assert first.status_code == 429
    assert first["Retry-After"] == "1"
    time.sleep(1.6)
    assert rest_login("admin@example.com", PASSWORD, peer="198.51.100.8").status_code == 200
    for attempt in range(LIMIT):
        rest_login("admin@example.com", "wrong", peer=f"198.51.100.{20 + attempt}")
    second = rest_login("admin@example.com", PASSWORD, peer="198.51.100.9")
    assert second.status_code == 429
    assert second["Retry-After"] == "2"
    time.sleep(0.5)  # well inside the second, doubled lock-out
    assert rest_login("admin@example.com", PASSWORD, peer="198.51.100.10").status_code == 429


def test_lockouts_can_be_switched_off(admin: User, settings: Any) -> None:
    settings.AXES_ENABLED = False
    client = Client()
    for attempt in range(LIMIT + 1):
        ui_login(client, "admin@example.com", "wrong", peer=f"198.51.100.{attempt}")
    assert ui_login(client, "admin@example.com", PASSWORD).status_code == 302


def test_an_admin_can_lift_an_account_lockout(admin: User) -> None:
    for attempt in range(LIMIT):
        rest_login("admin@example.com", "wrong", peer=f"198.51.100.{attempt}")
    assert rest_login("admin@example.com", PASSWORD, peer="198.51.100.200").status_code == 429
    call_command("axes_reset_username", "admin@example.com", stdout=io.StringIO())
    assert rest_login("admin@example.com", PASSWORD, peer="198.51.100.200").status_code == 200
