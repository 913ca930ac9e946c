"""Users, invites, passwords and API tokens over REST (fleet-protocol §4.1)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import AuthToken, Invite, Team, User
from activities.models import Activity
from conftest import PASSWORD, APIClient

pytestmark = pytest.mark.django_db
BASE = "/api/latest/fleet"
NEW_PASSWORD = "another long passphrase 77"


def test_admin_invites_and_invitee_signs_up_without_a_session(
    api: APIClient, team: Team, api_client_as: Callable[[User | None], APIClient], django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"{BASE}/invites", {"email": "New@Example.com", "teams": [{"id": team.pk, "role": "observer"}]}
        )
    assert response.status_code == 200, response.content
    assert response.json()["invite"]["email"] == "new@example.com"
    assert len(mail.outbox) == 1
    token = mail.outbox[0].body.split("/invites/")[1].split("/")[0]
    anonymous = api_client_as(None)
    assert anonymous.get(f"{BASE}/invites/{token}").json()["invite"]["email"] == "new@example.com"
    body = {"email": "new@example.com", "name": "New", "password": NEW_PASSWORD, "invite_token": token}
    created = anonymous.post(f"{BASE}/users", body)
    assert created.status_code == 200, created.content
    user = User.objects.get(email="new@example.com")
    assert dict(user.memberships.values_list("team_id", "role")) == {team.pk: "observer"}
    assert not Invite.objects.exists()
    assert anonymous.post(f"{BASE}/users", body).status_code == 422  # the token works once


def test_invite_with_both_global_and_team_roles_is_422_and_saves_nothing(api: APIClient, team: Team) -> None:
    body = {"email": "x@example.com", "global_role": "admin", "teams": [{"id": team.pk, "role": "observer"}]}
    response = api.post(f"{BASE}/invites", body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["name"] == "teams"
    assert not Invite.objects.exists() and not Activity.objects.filter(type="invited_user").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": NEW_PASSWORD, "global_role": "observer"}, "email"),
        ({"email": "a@example.com", "password": "short", "global_role": "observer"}, "password"),
        ({"email": "a@example.com", "password": NEW_PASSWORD, "global_role": "boss"}, "global_role"),
        ({"email": "a@example.com", "password": NEW_PASSWORD}, "global_role"),
        ({"email": "admin@example.com", "password": NEW_PASSWORD, "global_role": "observer"}, "email"),
    ],
)
def test_creating_a_user_with_bad_input_names_the_field(api: APIClient, body: dict, field: str) -> None:
    before = User.objects.count()
    response = api.post(f"{BASE}/users/admin", body)
    assert response.status_code in (409, 422), response.content
    if response.status_code == 422:
        assert response.json()["errors"][0]["name"] == field
    assert User.objects.count() == before


def test_api_only_user_gets_a_token_and_cannot_use_the_web_ui(api: APIClient, client) -> None:
    body = {"email": "bot@example.com", "password": NEW_PASSWORD, "global_role": "observer", "api_only": True}
    response = api.post(f"{BASE}/users/admin", body)
    assert response.status_code == 200 and response.json()["token"]
    assert APIClient(response.json()["token"]).get(f"{BASE}/hosts").status_code == 200
    login = client.post("/login/", {"email": "bot@example.com", "password": NEW_PASSWORD})
    assert login.status_code == 200 and b"cannot use the web UI" in login.content


def test_role_change_is_recorded_and_last_admin_cannot_be_demoted(api: APIClient, admin: User, observer: User) -> None:
    assert api.patch(f"{BASE}/users/{observer.pk}", {"global_role": "maintainer"}).status_code == 200
    observer.refresh_from_db()
    assert observer.global_role == "maintainer" and not observer.memberships.exists()
    assert Activity.objects.filter(type="changed_user_global_role", details__user_id=observer.pk).exists()
    response = api.patch(f"{BASE}/users/{admin.pk}", {"global_role": "observer"})
    assert response.status_code == 422
    assert "last global admin" in response.json()["errors"][0]["reason"]


def test_users_cannot_change_their_own_role(api_client_as: Callable, observer: User) -> None:
    client = api_client_as(observer)
    assert client.patch(f"{BASE}/users/{observer.pk}", {"global_role": "admin"}).status_code == 403
    assert client.patch(f"{BASE}/users/{observer.pk}", {"name": "Obi"}).status_code == 200


def test_delete_user_and_never_yourself(api: APIClient, admin: User, observer: User) -> None:
    assert api.delete(f"{BASE}/users/{admin.pk}").status_code == 422
    assert api.delete(f"{BASE}/users/{observer.pk}").status_code == 200
    assert not User.objects.filter(pk=observer.pk).exists()
    assert Activity.objects.filter(type="deleted_user").exists()


def test_change_password_ends_other_sessions(api_client_as: Callable, observer: User) -> None:
    current, other = api_client_as(observer), api_client_as(observer)
    wrong = current.post(f"{BASE}/change_password", {"old_password": "nope", "new_password": NEW_PASSWORD})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["name"] == "old_password"
    ok = current.post(f"{BASE}/change_password", {"old_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert ok.status_code == 200
    assert current.get(f"{BASE}/me").status_code == 200
    assert other.get(f"{BASE}/me").status_code == 401


def test_forgot_and_reset_password(api_client_as: Callable, observer: User) -> None:
    anonymous = api_client_as(None)
    assert anonymous.post(f"{BASE}/forgot_password", {"email": "nobody@example.com"}).json() == {}
    assert anonymous.post(f"{BASE}/forgot_password", {"email": observer.email}).status_code == 200
    assert len(mail.outbox) == 1
    uidb64, token = mail.outbox[0].body.split("/password/reset/")[1].split("/")[:2]
    bad = anonymous.post(
        f"{BASE}/reset_password", {"password_reset_token": f"{uidb64}:x", "new_password": NEW_PASSWORD}
    )
    assert bad.status_code == 422
    body = {"password_reset_token": f"{uidb64}:{token}", "new_password": NEW_PASSWORD}
    assert anonymous.post(f"{BASE}/reset_password", body).status_code == 200
    observer.refresh_from_db()
    assert observer.check_password(NEW_PASSWORD)
    assert anonymous.post(f"{BASE}/reset_password", body).status_code == 422  # used once


def test_api_tokens_are_named_scoped_expiring_and_revocable(api: APIClient, admin: User) -> None:
    created = api.post(f"{BASE}/api_tokens", {"name": "ci", "role": "observer", "expires_in_days": 7})
    assert created.status_code == 200
    token = APIClient(created.json()["token"])
    assert token.get(f"{BASE}/hosts").status_code == 200
    assert token.patch(f"{BASE}/config", {}).status_code == 403  # scoped down to observer
    listed = api.get(f"{BASE}/api_tokens").json()["api_tokens"]
    assert [(t["name"], t["role"]) for t in listed] == [("ci", "observer")]
    assert api.delete(f"{BASE}/api_tokens/{listed[0]['id']}").status_code == 200
    assert token.get(f"{BASE}/hosts").status_code == 401
    expiring = APIClient(api.post(f"{BASE}/api_tokens", {"name": "old"}).json()["token"])
    AuthToken.objects.filter(name="old").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert expiring.get(f"{BASE}/hosts").status_code == 401
    assert api.post(f"{BASE}/api_tokens", {"name": "x", "expires_in_days": 0}).status_code == 422


def test_login_success_and_failure_are_recorded(admin: User, api_client_as: Callable) -> None:
    anonymous = api_client_as(None)
    anonymous.post(f"{BASE}/login", {"email": admin.email, "password": "wrong"})
    anonymous.post(f"{BASE}/login", {"email": admin.email, "password": PASSWORD})
    assert list(Activity.objects.order_by("id").values_list("type", flat=True)) == [
        "user_failed_login",
        "user_logged_in",
    ]


# --- PATCH /users/{id} accepts only fields it acts on (issue 12, finding 4) ----------------------


@pytest.mark.parametrize(
    "body",
    [{"is_active": False}, {"name": "Obi", "is_active": False}, {"is_staff": True}, {"enabled": False}],
)
def test_patch_user_with_a_field_it_cannot_change_is_422_and_changes_nothing(
    api: APIClient, observer: User, body: dict
) -> None:
    """Fleet's modify-user payload has no is_active: a silent 200 would let an admin believe it worked."""
    response = api.patch(f"{BASE}/users/{observer.pk}", body)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert {error["name"] for error in errors} == set(body) - {"name"}
    assert all("not a field" in error["reason"] for error in errors)
    observer.refresh_from_db()
    assert observer.is_active and not observer.is_staff and observer.name == "observer"
    assert not Activity.objects.filter(type="edited_user").exists()


def test_patch_user_accepts_fleets_sso_and_mfa_flags_when_off(api: APIClient, observer: User) -> None:
    """Fleet's UI sends sso_enabled/mfa_enabled with every edit; off is the only state we have."""
    response = api.patch(f"{BASE}/users/{observer.pk}", {"name": "Obi", "sso_enabled": False, "mfa_enabled": False})
    assert response.status_code == 200, response.content
    assert api.patch(f"{BASE}/users/{observer.pk}", {"sso_enabled": True}).status_code == 422


def test_own_email_and_password_change_need_the_current_password_as_in_fleet(
    observer: User, api_client_as: Callable[..., APIClient], django_capture_on_commit_callbacks
) -> None:
    client = api_client_as(observer)
    me = f"{BASE}/users/{observer.pk}"
    refused = client.patch(me, {"email": "new@example.com"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["name"] == "password"
    assert client.patch(me, {"new_password": NEW_PASSWORD, "password": "wrong"}).status_code == 422
    with django_capture_on_commit_callbacks(execute=True):
        changed = client.patch(me, {"email": "new@example.com", "password": PASSWORD, "gravatar_url": ""})
    # Fleet: the new email is pending until the token mailed to it is confirmed (test_sessions_api.py).
    assert changed.status_code == 200 and changed.json()["user"]["email"] == observer.email
    assert mail.outbox[-1].to == ["new@example.com"]
    assert client.patch(me, {"new_password": NEW_PASSWORD, "password": PASSWORD}).status_code == 200
    observer.refresh_from_db()
    assert observer.check_password(NEW_PASSWORD)
    assert client.get(f"{BASE}/me").status_code == 200  # this session stays


def test_an_admin_sets_another_users_password_with_new_password(api: APIClient, observer: User) -> None:
    assert api.patch(f"{BASE}/users/{observer.pk}", {"new_password": NEW_PASSWORD}).status_code == 200
    observer.refresh_from_db()
    assert observer.check_password(NEW_PASSWORD)


def test_invite_paths_answer_both_methods_whatever_the_key_looks_like(
    api: APIClient, api_client_as: Callable[[User | None], APIClient]
) -> None:
    """GET takes a link token and DELETE an id on the same path (Fleet's routes); a digit-only
    token or a non-numeric id is a 404, never a 405 (found by schemathesis)."""
    anonymous = api_client_as(None)
    assert anonymous.get(f"{BASE}/invites/12345").status_code == 404
    assert api.delete(f"{BASE}/invites/not-a-number").status_code == 404
    assert api.delete(f"{BASE}/invites/999").status_code == 404
    assert anonymous.delete(f"{BASE}/invites/999").status_code == 401


def test_ui_settings_are_kept_per_user_and_returned_when_asked(api: APIClient, admin: User) -> None:
    columns = ["primary_mac", "uptime"]
    changed = api.patch(f"/api/latest/fleet/users/{admin.pk}", {"settings": {"hidden_host_columns": columns}})
    assert changed.status_code == 200, changed.content
    assert "settings" not in api.get("/api/latest/fleet/me").json()
    assert api.get("/api/latest/fleet/me?include_ui_settings=true").json()["settings"] == {
        "hidden_host_columns": columns
    }
    detail = api.get(f"/api/latest/fleet/users/{admin.pk}?include_ui_settings=true").json()
    assert detail["settings"]["hidden_host_columns"] == columns
    bad = api.patch(f"/api/latest/fleet/users/{admin.pk}", {"settings": {"hidden_host_columns": "uptime"}})
    assert bad.status_code == 422
