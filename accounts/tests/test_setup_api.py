"""First-run setup (`fleetctl setup`): only while the server has no user, all or nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from fleetsite.models import FleetConfig

pytestmark = pytest.mark.django_db

SETUP = "/api/v1/setup"
BODY = {
    "admin": {"email": "First@Example.com", "name": "First Admin", "password": "a long enough password 42!"},
    "org_info": {"org_name": "Acme"},
    "server_url": "https://fleet.example.com",
}


def test_setup_creates_the_first_admin_and_logs_them_in(client: Client) -> None:
    response = client.post(SETUP, BODY, content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["admin"]["email"] == "first@example.com" and body["admin"]["global_role"] == "admin"
    assert body["org_info"]["org_name"] == "Acme" and body["server_url"] == "https://fleet.example.com"
    me = client.get("/api/latest/fleet/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.json()["user"]["email"] == "first@example.com"
    assert FleetConfig.objects.get(pk=1).org_name == "Acme"


def test_setup_is_gone_once_a_user_exists(client: Client, admin: User) -> None:
    response = client.post(SETUP, BODY, content_type="application/json")
    assert response.status_code == 404
    assert not User.objects.filter(email="first@example.com").exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"admin": {"email": "a@example.com", "name": "A"}}, "admin.password"),
        ({"org_info": {}}, "org_info.org_name"),
        ({"admin": {"email": "a@example.com", "name": "A", "password": "short"}}, "password"),
        ({"server_url": "not a url"}, "server_settings.server_url"),
    ],
)
def test_bad_setup_writes_nothing(client: Client, change: dict, field: str) -> None:
    response = client.post(SETUP, {**BODY, **change}, content_type="application/json")
    assert response.status_code == 422, response.content
    assert field in {error["name"] for error in response.json()["errors"]}
    assert not User.objects.exists()  # the server can still be set up
    assert client.post(SETUP, BODY, content_type="application/json").status_code == 200
