"""Labels REST beyond list/create (fleet-protocol §4.6): get, modify, delete, summary, specs; built-ins are fixed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from accounts.models import Team, User
from activities.models import Activity
from conftest import APIClient
from hosts.choices import LabelMembershipType, LabelType
from hosts.models import Host, Label

pytestmark = pytest.mark.django_db

LABELS = "/api/latest/fleet/labels"
SPEC = "/api/latest/fleet/spec/labels"


def body_of(response: Any) -> Any:
    return orjson.loads(response.content)


def assert_error(response: Any, status: int, name: str | None = None, reason: str | None = None) -> None:
    assert response.status_code == status, response.content
    if name is not None:
        assert body_of(response)["errors"][0]["name"] == name, response.content
    if reason is not None:
        assert reason in body_of(response)["errors"][0]["reason"], response.content


def dynamic(name: str = "dyn", **fields: Any) -> Label:
    return Label.objects.create(name=name, query=fields.pop("query", "SELECT 1"), **fields)


def manual(name: str = "man", hosts: tuple[Host, ...] = ()) -> Label:
    label = Label.objects.create(name=name, label_membership_type=LabelMembershipType.MANUAL)
    label.hosts.set(hosts)
    return label


def host(name: str, team: Team | None = None) -> Host:
    return Host.objects.create(osquery_host_id=name, hostname=name, team=team)


def builtin() -> Label:
    return Label.objects.filter(label_type=LabelType.BUILTIN).first() or Label.objects.create(
        name="All Hosts", query="SELECT 1;", label_type=LabelType.BUILTIN
    )


def test_get_counts_only_visible_hosts(
    api: APIClient, api_client_as: Callable[[User | None], APIClient], observer: User, team: Team
) -> None:
    label = manual(hosts=(host("a", team), host("b")))
    body = body_of(api.get(f"{LABELS}/{label.pk}"))["label"]
    assert body["name"] == "man" and body["host_count"] == body["count"] == 2
    assert body["label_membership_type"] == "manual" and body["label_type"] == "regular"
    assert body_of(api_client_as(observer).get(f"{LABELS}/{label.pk}"))["label"]["host_count"] == 1


def test_patch_name_description_and_manual_hosts(api: APIClient) -> None:
    a, b = host("a"), host("b")
    label = manual(hosts=(a,))
    body = body_of(api.patch(f"{LABELS}/{label.pk}", {"name": "renamed", "description": "d", "host_ids": [b.pk]}))
    assert body["label"]["name"] == "renamed" and body["label"]["description"] == "d"
    assert list(label.hosts.all()) == [b]
    assert Activity.objects.get(type="edited_label").details == {"label_id": label.pk, "label_name": "renamed"}


@pytest.mark.parametrize(
    ("payload", "name"),
    [
        ({"query": "SELECT 2"}, "query"),
        ({"platform": "darwin"}, "platform"),
        ({"host_ids": [1]}, "host_ids"),
        ({"name": "  "}, "name"),
        ({"name": 5 * "x" * 100}, "name"),
        ({"host_ids": "x"}, "host_ids"),
        ([], "base"),
    ],
)
def test_patch_bad_input_is_422(api: APIClient, payload: Any, name: str) -> None:
    label = dynamic()
    assert_error(api.patch(f"{LABELS}/{label.pk}", payload), 422, name)
    label.refresh_from_db()
    assert label.name == "dyn" and label.query == "SELECT 1"


def test_patch_to_a_taken_name_is_409(api: APIClient) -> None:
    dynamic("taken")
    label = dynamic()
    assert_error(api.patch(f"{LABELS}/{label.pk}", {"name": "taken"}), 409)


def test_builtin_labels_cannot_be_changed_or_deleted(api: APIClient) -> None:
    label = builtin()
    assert_error(api.patch(f"{LABELS}/{label.pk}", {"name": "x"}), 422, "label_type", "cannot modify built-in label")
    assert_error(api.delete(f"{LABELS}/id/{label.pk}"), 422, "label_type", "cannot delete built-in label")
    assert_error(api.delete(f"{LABELS}/{label.name}"), 422, "label_type")
    assert Label.objects.filter(pk=label.pk).exists()


def test_delete_by_name_and_by_id(api: APIClient) -> None:
    first, second = dynamic("first"), dynamic("42")
    assert body_of(api.delete(f"{LABELS}/first")) == {}
    assert body_of(api.delete(f"{LABELS}/42")) == {}  # numeric names delete by name, as in Fleet
    third = dynamic("third")
    assert body_of(api.delete(f"{LABELS}/id/{third.pk}")) == {}
    assert not Label.objects.filter(pk__in=[first.pk, second.pk, third.pk]).exists()
    assert Activity.objects.filter(type="deleted_label").count() == 3
    assert_error(api.delete(f"{LABELS}/first"), 404)
    assert_error(api.delete(f"{LABELS}/id/{third.pk}"), 404)


def test_unknown_label_is_404(api: APIClient) -> None:
    assert_error(api.get(f"{LABELS}/999999"), 404, "base", "Label 999999 was not found")
    assert_error(api.get(f"{LABELS}/nope"), 404)
    assert_error(api.patch(f"{LABELS}/999999", {"name": "x"}), 404)


def test_summary(api: APIClient) -> None:
    label = dynamic()
    summary = body_of(api.get(f"{LABELS}/summary"))["labels"]
    assert {"id": label.pk, "name": "dyn", "description": "", "label_type": "regular"} in summary
    assert set(summary[0]) == {"id", "name", "description", "label_type"}


def test_team_users_cannot_write_global_labels(
    api_client_as: Callable[[User | None], APIClient], maintainer: User, observer: User
) -> None:
    label = dynamic()
    for user in (maintainer, observer):
        client = api_client_as(user)
        assert client.get(f"{LABELS}/{label.pk}").status_code == 200
        assert_error(client.patch(f"{LABELS}/{label.pk}", {"name": "x"}), 403)
        assert_error(client.delete(f"{LABELS}/id/{label.pk}"), 403)
        assert_error(client.post(SPEC, {"specs": [{"name": "new", "query": "SELECT 1"}]}), 403)
    assert Label.objects.filter(pk=label.pk, name="dyn").exists()


def test_outsider_does_not_see_another_teams_label(
    api_client_as: Callable[[User | None], APIClient], outsider: User, team: Team
) -> None:
    label = dynamic(team=team)
    client = api_client_as(outsider)
    assert_error(client.get(f"{LABELS}/{label.pk}"), 404)
    assert_error(client.delete(f"{LABELS}/id/{label.pk}"), 404)
    assert label.pk not in [row["id"] for row in body_of(client.get(f"{LABELS}/summary"))["labels"]]


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_anonymous_is_401(db: None, method: str) -> None:
    label = dynamic()
    client = APIClient()
    response = (
        client.get(f"{LABELS}/{label.pk}") if method == "get" else getattr(client, method)(f"{LABELS}/{label.pk}", {})
    )
    assert_error(response, 401)
    assert_error(client.post(SPEC, {"specs": []}), 401)


def test_spec_creates_and_updates(api: APIClient) -> None:
    a = host("web-1")
    specs = [
        {"name": "dyn", "query": "SELECT 1 FROM os_version WHERE platform = 'darwin'", "platform": "darwin"},
        {"name": "man", "label_membership_type": "manual", "hosts": ["web-1"]},
    ]
    assert body_of(api.post(SPEC, {"specs": specs})) == {}
    assert Label.objects.get(name="dyn").platform == "darwin"
    assert list(Label.objects.get(name="man").hosts.all()) == [a]
    specs[0].update(query="SELECT 2", description="now")
    assert api.post(SPEC, {"specs": specs[:1]}).status_code == 200
    assert Label.objects.get(name="dyn").query == "SELECT 2"
    assert Activity.objects.filter(type="created_label").count() == 2
    assert Activity.objects.filter(type="edited_label").count() == 1


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ({"name": "x", "query": "DELETE FROM users"}, "specs.0.query"),
        ({"name": "x", "query": "SELECT * FROM"}, "specs.0.query"),
        ({"name": "x", "query": ""}, "specs.0.query"),
        ({"name": "", "query": "SELECT 1"}, "specs.0.name"),
        ({"name": "x", "query": "SELECT 1", "label_membership_type": "magic"}, "specs.0.label_membership_type"),
        ({"name": "x", "label_membership_type": "manual", "query": "SELECT 1"}, "specs.0.query"),
        ({"name": "x", "query": "SELECT 1", "hosts": ["a"]}, "specs.0.hosts"),
        ({"name": "x", "label_membership_type": "manual", "hosts": ["nobody"]}, "hosts"),
    ],
)
def test_spec_bad_input_is_422_and_changes_nothing(api: APIClient, spec: dict, name: str) -> None:
    before = Label.objects.count()
    response = api.post(SPEC, {"specs": [{"name": "ok", "query": "SELECT 1"}, spec] if name == "hosts" else [spec]})
    assert_error(response, 422, name)
    assert Label.objects.count() == before


def test_spec_cannot_touch_builtins_or_switch_types(api: APIClient) -> None:
    label = builtin()
    assert_error(api.post(SPEC, {"specs": [{"name": label.name, "query": "SELECT 2"}]}), 422, "label_type")
    manual("man")
    assert_error(api.post(SPEC, {"specs": [{"name": "man", "query": "SELECT 2"}]}), 422, "label_membership_type")
    assert_error(api.post(SPEC, {"specs": [{"name": "d", "query": "SELECT 1"}] * 2}), 422, "specs")
    assert_error(api.post(SPEC, {"specs": "nope"}), 422)
