"""Secret (custom) variables: gitops's spec PUT and the UI's list/add/delete; values never come back."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import User
from activities.models import Activity
from conftest import APIClient
from variables import service
from variables.models import SecretVariable

pytestmark = pytest.mark.django_db

BASE = "/api/latest/fleet"


def put(client: APIClient, body: Any, query: str = "") -> Any:
    return client._call("put", f"{BASE}/spec/secret_variables{query}", body)


def test_gitops_puts_secrets_stored_encrypted_and_never_listed_with_values(api: APIClient) -> None:
    body = {"secrets": [{"name": "FLEET_SECRET_API_TOKEN", "value": "s3cr3t"}, {"name": "OTHER", "value": "x"}]}
    assert put(api, body).status_code == 200
    row = SecretVariable.objects.get(name="API_TOKEN")
    assert "s3cr3t" not in row.value_encrypted
    assert service.value_of("FLEET_SECRET_API_TOKEN") == "s3cr3t"
    listed = api.get(f"{BASE}/custom_variables").json()
    assert listed["count"] == 2
    assert [item["name"] for item in listed["custom_variables"]] == ["API_TOKEN", "OTHER"]
    assert "s3cr3t" not in str(listed) and set(listed["custom_variables"][0]) == {"id", "name", "updated_at"}


def test_putting_the_same_secrets_again_rewrites_nothing_and_a_new_value_replaces(api: APIClient) -> None:
    body = {"secrets": [{"name": "A", "value": "1"}]}
    put(api, body)
    before = SecretVariable.objects.get(name="A").value_encrypted
    put(api, body)
    assert SecretVariable.objects.get(name="A").value_encrypted == before
    put(api, {"secrets": [{"name": "A", "value": "2"}]})
    assert service.value_of("A") == "2"
    assert not Activity.objects.exists()


def test_dry_run_and_bad_names_write_nothing(api: APIClient) -> None:
    assert put(api, {"dry_run": True, "secrets": [{"name": "A", "value": "1"}]}).status_code == 200
    response = put(api, {"secrets": [{"name": "GOOD", "value": "1"}, {"name": "bad-name", "value": "1"}]})
    assert response.status_code == 422
    assert response.json()["errors"][0] == {"name": "name", "reason": "secret variable with invalid format: bad-name"}
    assert not SecretVariable.objects.exists()


def test_custom_variables_add_and_delete_with_activities(api: APIClient) -> None:
    created = api.post(f"{BASE}/custom_variables", {"name": "TOKEN", "value": "v"})
    assert created.status_code == 200
    assert created.json()["name"] == "TOKEN"
    assert api.post(f"{BASE}/custom_variables", {"name": "TOKEN", "value": "v"}).status_code == 409
    assert api.post(f"{BASE}/custom_variables", {"name": "EMPTY", "value": ""}).status_code == 422
    assert api.delete(f"{BASE}/custom_variables/{created.json()['id']}").status_code == 200
    assert api.delete(f"{BASE}/custom_variables/{created.json()['id']}").status_code == 404
    types = list(Activity.objects.order_by("id").values_list("type", flat=True))
    assert types == ["created_custom_variable", "deleted_custom_variable"]


def test_only_global_admins_and_maintainers_touch_variables(
    api_client_as: Any, global_maintainer: User, global_observer: User, team_admin: User
) -> None:
    body = {"secrets": [{"name": "A", "value": "1"}]}
    assert put(api_client_as(global_maintainer), body).status_code == 200
    for user in (global_observer, team_admin):
        assert put(api_client_as(user), body).status_code == 403
        assert api_client_as(user).get(f"{BASE}/custom_variables").status_code == 403
    assert api_client_as(None).get(f"{BASE}/custom_variables").status_code == 401
