"""Sessions, required password resets, e-mail change confirmation and invite edits over REST."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts import tokens
from accounts.choices import TokenKind
from accounts.models import AuthToken, EmailChange, Invite, Team, User
from conftest import PASSWORD, APIClient

pytestmark = pytest.mark.django_db
BASE = "/api/latest/fleet"
NEW_PASSWORD = "another long passphrase 77"


def _session_ids(user: User) -> list[int]:
    return list(AuthToken.objects.filter(user=user, kind=TokenKind.SESSION).order_by("id").values_list("id", flat=True))


# --- Sessions --------------------------------------------------------------------------------


def test_a_user_sees_and_ends_their_own_session_in_fleets_shape(
    observer: User, api_client_as: Callable[..., APIClient]
) -> None:
    client = api_client_as(observer)
    session_id = _session_ids(observer)[0]
    body = client.get(f"{BASE}/sessions/{session_id}").json()
    assert set(body) == {"session_id", "user_id", "created_at"}
    assert body["session_id"] == session_id and body["user_id"] == observer.pk
    assert client.delete(f"{BASE}/sessions/{session_id}").json() == {}
    assert client.get(f"{BASE}/me").status_code == 401  # that was this very session


def test_only_admins_reach_other_users_sessions(
    admin: User, observer: User, maintainer: User, api_client_as: Callable[..., APIClient]
) -> None:
    api_client_as(observer)
    session_id = _session_ids(observer)[0]
    other = api_client_as(maintainer)
    assert other.get(f"{BASE}/sessions/{session_id}").status_code == 403
    assert other.delete(f"{BASE}/sessions/{session_id}").status_code == 403
    assert other.get(f"{BASE}/users/{observer.pk}/sessions").status_code == 403
    assert other.delete(f"{BASE}/users/{observer.pk}/sessions").status_code == 403
    assert _session_ids(observer) == [session_id]
    admin_client = api_client_as(admin)
    assert admin_client.get(f"{BASE}/sessions/{session_id}").json()["user_id"] == observer.pk
    assert admin_client.delete(f"{BASE}/sessions/{session_id}").status_code == 200
    assert _session_ids(observer) == []
    assert admin_client.get(f"{BASE}/sessions/{session_id}").status_code == 404
    assert api_client_as(None).get(f"{BASE}/sessions/{session_id}").status_code == 401


def test_user_sessions_list_only_live_login_sessions_and_delete_ends_them_all(
    admin: User, observer: User, api_client_as: Callable[..., APIClient]
) -> None:
    client = api_client_as(observer)
    tokens.issue_session(observer)
    expired = tokens.issue_session(observer)
    AuthToken.objects.filter(pk=_session_ids(observer)[-1]).update(expires_at=timezone.now() - timedelta(seconds=1))
    tokens.issue_api_token(observer, "script")
    listed = client.get(f"{BASE}/users/{observer.pk}/sessions").json()["sessions"]
    assert [s["session_id"] for s in listed] == _session_ids(observer)[:2]
    assert expired  # issued, but past its expiry: not listed
    admin_client = api_client_as(admin)
    assert admin_client.delete(f"{BASE}/users/{observer.pk}/sessions").json() == {}
    assert _session_ids(observer) == []
    assert AuthToken.objects.filter(user=observer, kind=TokenKind.API).count() == 1  # API tokens are not sessions
    assert client.get(f"{BASE}/me").status_code == 401


def test_post_sessions_without_mfa_fails_like_an_unknown_mfa_token(api_client_as: Callable[..., APIClient]) -> None:
    response = api_client_as(None).post(f"{BASE}/sessions", {"token": "not-a-real-mfa-token"})
    assert response.status_code == 401
    assert response.json()["message"] == "Authentication failed"


# --- Required password reset -----------------------------------------------------------------


def test_required_password_reset_ends_sessions_and_blocks_all_but_the_reset(
    api: APIClient, observer: User, api_client_as: Callable[..., APIClient]
) -> None:
    before = api_client_as(observer)
    response = api.post(f"{BASE}/users/{observer.pk}/require_password_reset", {"require": True})
    assert response.status_code == 200
    assert response.json()["user"]["force_password_reset"] is True
    assert before.get(f"{BASE}/me").status_code == 401  # every session ended
    login = api_client_as(None).post(f"{BASE}/login", {"email": observer.email, "password": PASSWORD})
    assert login.json()["user"]["force_password_reset"] is True
    client = APIClient(login.json()["token"])
    blocked = client.get(f"{BASE}/hosts")
    assert blocked.status_code == 401
    assert blocked.json()["message"] == "password reset required"
    assert client.get(f"{BASE}/me").status_code == 401  # Fleet: only the reset itself is open
    assert (
        api_client_as(None).post(f"{BASE}/perform_required_password_reset", {"new_password": NEW_PASSWORD}).status_code
        == 403
    )
    same = client.post(f"{BASE}/perform_required_password_reset", {"new_password": PASSWORD})
    assert same.status_code == 422 and same.json()["errors"][0]["name"] == "new_password"
    weak = client.post(f"{BASE}/perform_required_password_reset", {"new_password": "short"})
    assert weak.status_code == 422
    done = client.post(f"{BASE}/perform_required_password_reset", {"new_password": NEW_PASSWORD})
    assert done.status_code == 200 and done.json()["user"]["force_password_reset"] is False
    observer.refresh_from_db()
    assert observer.check_password(NEW_PASSWORD)
    assert client.get(f"{BASE}/hosts").status_code == 200
    assert (
        client.post(f"{BASE}/perform_required_password_reset", {"new_password": "yet another phrase 99"}).json()[
            "errors"
        ][0]["reason"]
        == "cannot reset password"
    )


def test_only_admins_require_password_resets(
    api: APIClient, admin: User, observer: User, maintainer: User, api_client_as: Callable[..., APIClient]
) -> None:
    response = api_client_as(maintainer).post(f"{BASE}/users/{observer.pk}/require_password_reset", {"require": True})
    assert response.status_code == 403
    observer.refresh_from_db()
    assert observer.force_password_reset is False
    assert api.post(f"{BASE}/users/999999/require_password_reset", {"require": True}).status_code == 404
    assert api.post(f"{BASE}/users/{observer.pk}/require_password_reset", {}).status_code == 422
    api.post(f"{BASE}/users/{observer.pk}/require_password_reset", {"require": True})
    assert (
        api.post(f"{BASE}/users/{observer.pk}/require_password_reset", {"require": False}).json()["user"][
            "force_password_reset"
        ]
        is False
    )


# --- E-mail change ---------------------------------------------------------------------------


def _mailed_token() -> str:
    match = re.search(r"/email/change/([A-Za-z0-9_-]+)", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def test_email_change_waits_for_the_token_mailed_to_the_new_address(
    observer: User, maintainer: User, api_client_as: Callable[..., APIClient], django_capture_on_commit_callbacks
) -> None:
    client = api_client_as(observer)
    me = f"{BASE}/users/{observer.pk}"
    with django_capture_on_commit_callbacks(execute=True):
        pending = client.patch(me, {"email": "New@Example.com", "password": PASSWORD})
    assert pending.status_code == 200
    assert pending.json()["user"]["email"] == observer.email  # unchanged until confirmed
    assert mail.outbox[-1].to == ["new@example.com"]
    token = _mailed_token()
    assert api_client_as(maintainer).get(f"{BASE}/email/change/{token}").status_code == 404  # not their change
    assert client.get(f"{BASE}/email/change/wrong-{token}").status_code == 404
    confirmed = client.get(f"{BASE}/email/change/{token}")
    assert confirmed.status_code == 200 and confirmed.json() == {"new_email": "new@example.com"}
    observer.refresh_from_db()
    assert observer.email == "new@example.com"
    assert client.get(f"{BASE}/email/change/{token}").status_code == 404  # used once


def test_email_change_tokens_expire_and_taken_addresses_are_refused(
    api: APIClient,
    admin: User,
    observer: User,
    api_client_as: Callable[..., APIClient],
    django_capture_on_commit_callbacks,
) -> None:
    client = api_client_as(observer)
    me = f"{BASE}/users/{observer.pk}"
    refused = client.patch(me, {"name": "Renamed", "email": admin.email, "password": PASSWORD})
    assert refused.status_code == 409
    observer.refresh_from_db()
    assert observer.name != "Renamed"  # all of the PATCH or none of it
    with django_capture_on_commit_callbacks(execute=True):
        client.patch(me, {"email": "later@example.com", "password": PASSWORD})
    EmailChange.objects.filter(user=observer).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(f"{BASE}/email/change/{_mailed_token()}").status_code == 404
    observer.refresh_from_db()
    assert observer.email != "later@example.com"


# --- Invite edits ----------------------------------------------------------------------------


def test_admin_edits_a_pending_invite(api: APIClient, team: Team, observer: User) -> None:
    invite = api.post(f"{BASE}/invites", {"email": "inv@example.com", "global_role": "observer"}).json()["invite"]
    url = f"{BASE}/invites/{invite['id']}"
    changed = api.patch(url, {"name": "Invited", "teams": [{"id": team.pk, "role": "maintainer"}]})
    assert changed.status_code == 200
    body = changed.json()["invite"]
    assert body["name"] == "Invited" and body["global_role"] is None
    assert body["teams"][0]["id"] == team.pk and body["teams"][0]["role"] == "maintainer"
    assert api.patch(url, {"email": observer.email}).status_code == 409
    assert api.patch(url, {"global_role": "admin", "teams": [{"id": team.pk, "role": "observer"}]}).status_code == 422
    assert api.patch(url, {"email": "Moved@Example.com"}).json()["invite"]["email"] == "moved@example.com"
    assert Invite.objects.get(pk=invite["id"]).email == "moved@example.com"
    assert api.patch(f"{BASE}/invites/999999", {"name": "x"}).status_code == 404


def test_non_admins_cannot_edit_invites(
    api: APIClient, maintainer: User, api_client_as: Callable[..., APIClient]
) -> None:
    invite = api.post(f"{BASE}/invites", {"email": "inv@example.com", "global_role": "observer"}).json()["invite"]
    response = api_client_as(maintainer).patch(f"{BASE}/invites/{invite['id']}", {"global_role": "admin"})
    assert response.status_code == 403
    assert Invite.objects.get(pk=invite["id"]).global_role == "observer"


# --- Required password reset in the web UI ---------------------------------------------------


def test_web_ui_sends_a_flagged_user_to_choose_a_new_password(client, observer: User) -> None:
    """The web UI follows the same rule: a flagged user sets a password before seeing any page."""
    client.force_login(observer)
    assert client.get("/account/").status_code == 200
    User.objects.filter(pk=observer.pk).update(force_password_reset=True)
    assert client.get("/account/").status_code == 302  # the open session ends
    login = client.post("/login/", {"email": observer.email, "password": PASSWORD})
    assert login.status_code == 302 and login["Location"].startswith("/password/reset/")
    form_page = client.get(login["Location"], follow=True)
    assert form_page.status_code == 200
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    observer.refresh_from_db()
    assert observer.force_password_reset is False and observer.check_password(NEW_PASSWORD)


def test_post_sessions_shares_the_login_rate_limit_per_address(api_client_as: Callable[..., APIClient]) -> None:
    anonymous = api_client_as(None)
    statuses = [anonymous.post(f"{BASE}/sessions", {"token": "guess"}).status_code for _ in range(30)]
    assert statuses[0] == 401 and statuses[-1] == 429


def test_an_admin_requires_a_new_password_from_the_web_ui_too(
    client, admin: User, global_observer: User, api_client_as: Callable[..., APIClient]
) -> None:
    their_api = api_client_as(global_observer)
    client.force_login(admin)
    form = {"email": global_observer.email, "name": "", "is_active": "on", "global_role": "observer"}
    saved = client.post(f"/users/{global_observer.pk}/", {**form, "force_password_reset": "on"})
    assert saved.status_code == 302
    global_observer.refresh_from_db()
    assert global_observer.force_password_reset is True
    assert their_api.get(f"{BASE}/me").status_code == 401  # their sessions ended
    client.post(f"/users/{global_observer.pk}/", form)  # unticked: the requirement is lifted
    global_observer.refresh_from_db()
    assert global_observer.force_password_reset is False
