"""`POST /translate`: names to ids, within what the caller may see."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from accounts.models import Team, User
from conftest import APIClient
from hosts.models import Host, Label

pytestmark = pytest.mark.django_db

URL = "/api/latest/fleet/translate"


def _item(kind: str, identifier: str) -> dict:
    return {"type": kind, "payload": {"identifier": identifier}}


def test_translates_each_kind_in_order(api: APIClient, admin: User, team: Team) -> None:
    host = Host.objects.create(osquery_host_id="abc", hostname="web-1", hardware_serial="SER1", team=team)
    label = Label.objects.create(name="Pilot", label_membership_type="manual")
    items = [
        _item("user", admin.email),
        _item("label", "Pilot"),
        _item("team", team.name),
        _item("host", "SER1"),
        _item("host", "web-1"),
    ]
    response = api.post(URL, {"list": items})
    assert response.status_code == 200, response.content
    assert response.json()["list"] == [
        {"type": "user", "payload": {"identifier": admin.email, "id": admin.pk}},
        {"type": "label", "payload": {"identifier": "Pilot", "id": label.pk}},
        {"type": "team", "payload": {"identifier": team.name, "id": team.pk}},
        {"type": "host", "payload": {"identifier": "SER1", "id": host.pk}},
        {"type": "host", "payload": {"identifier": "web-1", "id": host.pk}},
    ]


def test_bad_payloads_get_fleets_errors(api: APIClient) -> None:
    empty = api.post(URL, {"list": []})
    assert empty.status_code == 400
    assert empty.json()["errors"][0]["reason"] == "payloads must not be empty"
    unknown = api.post(URL, {"list": [_item("gadget", "x")]})
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["reason"].startswith("Type gadget is unknown.")
    assert api.post(URL, {"list": [_item("host", "nobody")]}).status_code == 404
    assert api.post(URL, {"list": [{"type": "host"}]}).status_code == 422


def test_other_teams_objects_and_users_stay_hidden(
    api_client_as: Callable[[User | None], APIClient], observer: User, admin: User, team: Team, other_team: Team
) -> None:
    Host.objects.create(osquery_host_id="b", hostname="theirs", team=other_team)
    client = api_client_as(observer)
    assert client.post(URL, {"list": [_item("host", "theirs")]}).status_code == 404
    assert client.post(URL, {"list": [_item("team", other_team.name)]}).status_code == 404
    assert client.post(URL, {"list": [_item("fleet", team.name)]}).json()["list"][0]["payload"]["id"] == team.pk
    assert client.post(URL, {"list": [_item("user", observer.email)]}).status_code == 200
    assert client.post(URL, {"list": [_item("user", admin.email)]}).status_code == 403
    assert api_client_as(None).post(URL, {"list": [_item("user", admin.email)]}).status_code == 401
