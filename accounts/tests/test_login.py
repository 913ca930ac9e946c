"""Login, logout and /me (fleet-protocol §4.1, error bodies §0.4)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from django.test import Client
from django.utils import timezone

from accounts.api import views as account_views
from accounts.models import AuthToken, Team, User
from conftest import PASSWORD, APIClient

pytestmark = pytest.mark.django_db

AUTH_FAILED = {"message": "Authentication failed", "errors": [{"name": "base", "reason": "Authentication failed"}]}
AUTH_REQUIRED = {
    "message": "Authentication required",
    "errors": [{"name": "base", "reason": "Authentication required"}],
}
USER_KEYS = {
    "id", "name", "email", "global_role", "api_only", "sso_enabled", "mfa_enabled", "force_password_reset",
    "gravatar_url", "teams", "created_at", "updated_at",
}  # fmt: skip
VERSIONS = ["latest", "v1"]


def login(email: str, password: str, version: str = "latest", remote_addr: str = "127.0.0.1") -> Any:
    body = orjson.dumps({"email": email, "password": password})
    return Client().post(f"/api/{version}/fleet/login", body, content_type="application/json", REMOTE_ADDR=remote_addr)


def me(token: str | None, version: str = "latest") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client().get(f"/api/{version}/fleet/me", headers=headers)


def body_of(response: Any) -> Any:
    return orjson.loads(response.content)


@pytest.mark.real_password_hashing
@pytest.mark.parametrize("version", VERSIONS)
def test_login_returns_user_teams_and_a_token(admin: User, version: str) -> None:
    response = login("admin@example.com", PASSWORD, version)
    assert response.status_code == 200
    body = body_of(response)
    assert set(body) == {"user", "available_teams", "token"}
    assert body["user"].keys() >= USER_KEYS
    assert body["user"]["email"] == "admin@example.com"
    assert body["user"]["global_role"] == "admin"
    assert body["user"]["id"] == admin.pk
    assert isinstance(body["token"], str) and len(body["token"]) >= 64
    assert "password" not in body["user"]
    # Stored with Django's default hasher, and never sent back, whole or in part.
    admin.refresh_from_db()
    assert admin.password.startswith("pbkdf2_sha256$")
    assert admin.password.split("$")[-1] not in response.content.decode()


@pytest.mark.parametrize("version", VERSIONS)
def test_login_token_authenticates_me(admin: User, version: str) -> None:
    token = body_of(login("admin@example.com", PASSWORD, version))["token"]
    response = me(token, version)
    assert response.status_code == 200
    body = body_of(response)
    assert body["user"]["id"] == admin.pk
    assert body["user"].keys() >= USER_KEYS
    assert "available_teams" in body


def test_login_lists_a_team_members_teams(maintainer: User, team: Team, other_team: Team) -> None:
    body = body_of(login("maintainer@example.com", PASSWORD))
    assert body["available_teams"] == [{"id": team.pk, "name": "Team A", "description": ""}]
    assert body["user"]["global_role"] is None
    assert [(t["id"], t["role"]) for t in body["user"]["teams"]] == [(team.pk, "maintainer")]


def test_admin_sees_every_team_as_available(admin: User, team: Team, other_team: Team) -> None:
    body = body_of(login("admin@example.com", PASSWORD))
    assert {t["id"] for t in body["available_teams"]} == {team.pk, other_team.pk}


def test_login_email_is_case_insensitive(admin: User) -> None:
    response = login("  Admin@EXAMPLE.com ", PASSWORD)
    assert response.status_code == 200
    assert body_of(response)["user"]["id"] == admin.pk


@pytest.mark.parametrize("version", VERSIONS)
def test_wrong_password_is_authentication_failed(admin: User, version: str) -> None:
    response = login("admin@example.com", "not the password", version)
    assert response.status_code == 401
    assert body_of(response) == AUTH_FAILED


def test_unknown_email_is_authentication_failed(admin: User) -> None:
    response = login("nobody@example.com", PASSWORD)
    assert response.status_code == 401
    assert body_of(response) == AUTH_FAILED


def test_inactive_user_cannot_log_in(admin: User) -> None:
    User.objects.filter(pk=admin.pk).update(is_active=False)
    response = login("admin@example.com", PASSWORD)
    assert response.status_code == 401
    assert body_of(response) == AUTH_FAILED


def test_failed_login_creates_no_session(admin: User) -> None:
    login("admin@example.com", "not the password")
    assert not AuthToken.objects.exists()


@pytest.fixture
def recorded_sleeps(monkeypatch: pytest.MonkeyPatch, settings: Any) -> list[float]:
    """The login view's clock frozen and its sleeps recorded instead of slept."""
    settings.FLEETSITE_LOGIN_FAILURE_DELAY = 1.0
    sleeps: list[float] = []
    fake_time = SimpleNamespace(monotonic=lambda: 1000.0, sleep=sleeps.append)
    monkeypatch.setattr(account_views, "time", fake_time)
    return sleeps


def test_failed_login_is_delayed_to_the_configured_minimum(admin: User, recorded_sleeps: list[float]) -> None:
    response = login("admin@example.com", "not the password")
    assert response.status_code == 401
    assert recorded_sleeps == [pytest.approx(1.0)]


def test_unknown_email_is_delayed_like_a_wrong_password(admin: User, recorded_sleeps: list[float]) -> None:
    assert login("nobody@example.com", PASSWORD).status_code == 401
    assert recorded_sleeps == [pytest.approx(1.0)]


def test_successful_login_is_not_delayed(admin: User, recorded_sleeps: list[float]) -> None:
    assert login("admin@example.com", PASSWORD).status_code == 200
    assert recorded_sleeps == []


def test_failure_delay_counts_time_already_spent(admin: User, monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    settings.FLEETSITE_LOGIN_FAILURE_DELAY = 1.0
    clock = iter([1000.0, 1000.25])
    sleeps: list[float] = []
    monkeypatch.setattr(account_views, "time", SimpleNamespace(monotonic=lambda: next(clock), sleep=sleeps.append))
    assert login("admin@example.com", "not the password").status_code == 401
    assert sleeps == [pytest.approx(0.75)]


def test_login_is_rate_limited_per_email(admin: User) -> None:
    for attempt in range(10):
        response = login("admin@example.com", "wrong", remote_addr=f"198.51.100.{attempt + 1}")
        assert response.status_code == 401, attempt
    response = login("admin@example.com", PASSWORD, remote_addr="198.51.100.200")
    assert response.status_code == 429
    assert "Retry-After" in response
    assert "errors" in body_of(response)


def test_rate_limit_per_email_ignores_case(admin: User) -> None:
    for attempt in range(10):
        login("ADMIN@example.com" if attempt % 2 else "admin@example.com", "wrong", remote_addr=f"198.51.100.{attempt}")
    assert login("Admin@Example.com", PASSWORD, remote_addr="198.51.100.200").status_code == 429


def test_login_is_rate_limited_per_client_address(admin: User) -> None:
    for attempt in range(10):
        response = login(f"user{attempt}@example.com", "wrong", remote_addr="203.0.113.9")
        assert response.status_code == 401, attempt
    assert login("admin@example.com", PASSWORD, remote_addr="203.0.113.9").status_code == 429
    # Another address and another email are not affected.
    assert login("admin@example.com", PASSWORD, remote_addr="203.0.113.10").status_code == 200


@pytest.mark.parametrize("version", VERSIONS)
def test_logout_destroys_the_session(admin: User, version: str) -> None:
    token = body_of(login("admin@example.com", PASSWORD))["token"]
    assert me(token).status_code == 200
    response = Client().post(f"/api/{version}/fleet/logout", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert body_of(response) == {}
    after = me(token)
    assert after.status_code == 401
    assert body_of(after) == AUTH_REQUIRED


def test_logout_leaves_other_sessions_alone(admin: User) -> None:
    first = body_of(login("admin@example.com", PASSWORD))["token"]
    second = body_of(login("admin@example.com", PASSWORD))["token"]
    Client().post("/api/latest/fleet/logout", headers={"Authorization": f"Bearer {first}"})
    assert me(first).status_code == 401
    assert me(second).status_code == 200


def test_logout_without_a_token_is_harmless(admin: User) -> None:
    response = Client().post("/api/latest/fleet/logout")
    assert response.status_code == 200
    assert body_of(response) == {}


@pytest.mark.parametrize("version", VERSIONS)
def test_malformed_json_is_a_bad_request(admin: User, version: str) -> None:
    response = Client().post(f"/api/{version}/fleet/login", b'{"email": "admin@', content_type="application/json")
    assert response.status_code == 400
    body = body_of(response)
    assert body["message"] == "Bad request"
    assert body["errors"][0]["name"] == "base"
    assert body["errors"][0]["reason"]


@pytest.mark.parametrize(
    ("payload", "missing"),
    [({"password": PASSWORD}, {"email"}), ({"email": "admin@example.com"}, {"password"}), ({}, {"email", "password"})],
)
def test_missing_login_fields_are_validation_errors(admin: User, payload: dict, missing: set[str]) -> None:
    response = Client().post("/api/latest/fleet/login", orjson.dumps(payload), content_type="application/json")
    assert response.status_code == 422
    body = body_of(response)
    assert body["message"] == "Validation Failed"
    assert {error["name"] for error in body["errors"]} == missing


@pytest.mark.parametrize("version", VERSIONS)
def test_me_without_a_token_is_authentication_required(db: None, version: str) -> None:
    response = me(None, version)
    assert response.status_code == 401
    assert body_of(response) == AUTH_REQUIRED


def test_me_with_an_unknown_token_is_authentication_required(db: None) -> None:
    response = me("not-a-real-token")
    assert response.status_code == 401
    assert body_of(response) == AUTH_REQUIRED


def test_expired_token_is_rejected(admin: User, api_client_as: Callable[[User | None], APIClient]) -> None:
    client = api_client_as(admin)
    assert client.get("/api/latest/fleet/me").status_code == 200
    AuthToken.objects.filter(user=admin).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get("/api/latest/fleet/me")
    assert response.status_code == 401
    assert body_of(response) == AUTH_REQUIRED


def test_session_in_use_is_extended(admin: User, api_client_as: Callable[[User | None], APIClient]) -> None:
    client = api_client_as(admin)
    soon = timezone.now() + timedelta(minutes=5)
    AuthToken.objects.filter(user=admin).update(expires_at=soon, last_used_at=timezone.now() - timedelta(minutes=10))
    assert client.get("/api/latest/fleet/me").status_code == 200
    assert AuthToken.objects.get(user=admin).expires_at > soon + timedelta(hours=1)


def test_deactivated_user_token_stops_working(admin: User, api_client_as: Callable[[User | None], APIClient]) -> None:
    client = api_client_as(admin)
    User.objects.filter(pk=admin.pk).update(is_active=False)
    assert client.get("/api/latest/fleet/me").status_code == 401
