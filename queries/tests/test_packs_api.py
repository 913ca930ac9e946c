"""Packs, their scheduled queries, pack specs and the global/team schedules (Fleet's packs.go and friends)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import Team, User
from activities.models import Activity
from conftest import APIClient
from hosts.models import Host, Label, LabelMembership
from queries.models import Pack, PackQuery, Query

pytestmark = pytest.mark.django_db

BASE = "/api/latest/fleet"
V1 = "/api/v1/fleet"
PACK_KEYS = {
    "created_at", "updated_at", "id", "name", "description", "platform", "disabled", "type", "label_ids", "host_ids",
    "team_ids", "query_count", "total_hosts_count", "report_count",
}  # fmt: skip
SCHEDULED_KEYS = {
    "created_at", "updated_at", "id", "pack_id", "name", "query_id", "query_name", "query", "description", "interval",
    "snapshot", "removed", "platform", "version", "shard", "denylist", "stats", "report_id", "report_name",
}  # fmt: skip


def assert_error(response: Any, status: int, reason: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"message", "errors"} and body["errors"][0]["reason"], body
    if reason is not None:
        assert reason in body["errors"][0]["reason"], body
    return body


def host(name: str, team: Team | None = None) -> Host:
    return Host.objects.create(osquery_host_id=name, hostname=name, team=team)


@pytest.fixture
def query(db: None) -> Query:
    return Query.objects.create(name="users", query="SELECT * FROM users")


# --- packs ------------------------------------------------------------------------------------------


def test_admin_creates_a_pack_with_targets(api: APIClient, team: Team) -> None:
    direct, on_team, other = host("direct"), host("on-team", team), host("other")
    label = Label.objects.create(name="servers", query="SELECT 1")
    LabelMembership.objects.create(label=label, host=other)
    response = api.post(
        f"{BASE}/packs",
        {"name": "audit", "description": "d", "host_ids": [direct.pk], "label_ids": [label.pk], "team_ids": [team.pk]},
    )
    assert response.status_code == 200, response.content
    pack = response.json()["pack"]
    assert set(pack) == PACK_KEYS
    assert (pack["name"], pack["disabled"], pack["type"], pack["query_count"]) == ("audit", False, None, 0)
    assert (pack["host_ids"], pack["label_ids"], pack["team_ids"]) == ([direct.pk], [label.pk], [team.pk])
    assert pack["total_hosts_count"] == 3
    activity = Activity.objects.get(type="created_pack")
    assert activity.details == {"pack_id": pack["id"], "pack_name": "audit"}
    assert on_team.pk not in pack["host_ids"]


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"name": ""}, 400, "pack name cannot be empty"),
        ({"name": "   "}, 400, "pack name cannot be empty"),
        ({"name": "Global"}, 409, "already exists"),
        ({"name": "team-3"}, 409, "already exists"),
        ({"name": "x", "host_ids": [999_999]}, 422, "was not found"),
        ({"name": "x", "team_ids": ["a"]}, 422, None),
        ({"name": "x", "disabled": "maybe"}, 422, None),
    ],
)
def test_bad_pack_payloads_get_fleet_errors(api: APIClient, body: dict, status: int, reason: str | None) -> None:
    assert_error(api.post(f"{BASE}/packs", body), status, reason)
    assert not Pack.objects.exists()


def test_pack_names_are_unique(api: APIClient) -> None:
    assert api.post(f"{BASE}/packs", {"name": "audit"}).status_code == 200
    assert_error(api.post(f"{BASE}/packs", {"name": "audit"}), 409, 'Pack "audit" already exists')


def test_get_list_and_modify_a_pack(api: APIClient, team: Team) -> None:
    pack_id = api.post(f"{BASE}/packs", {"name": "audit", "team_ids": [team.pk]}).json()["pack"]["id"]
    api.post(f"{BASE}/packs", {"name": "basics"})
    assert api.get(f"{BASE}/packs/{pack_id}").json()["pack"]["name"] == "audit"
    assert [p["name"] for p in api.get(f"{BASE}/packs").json()["packs"]] == ["audit", "basics"]
    assert [p["name"] for p in api.get(f"{BASE}/packs", {"per_page": 1, "page": 1}).json()["packs"]] == ["basics"]
    response = api.patch(f"{BASE}/packs/{pack_id}", {"name": "audit2", "disabled": True, "team_ids": []})
    assert response.status_code == 200, response.content
    pack = response.json()["pack"]
    assert (pack["name"], pack["disabled"], pack["team_ids"], pack["description"]) == ("audit2", True, [], "")
    assert Activity.objects.get(type="edited_pack").details == {"pack_id": pack_id, "pack_name": "audit2"}
    assert_error(api.patch(f"{BASE}/packs/{pack_id}", {"name": "basics"}), 409)
    assert_error(api.get(f"{BASE}/packs/999999"), 404, "Pack 999999 was not found")
    assert_error(api.get(f"{BASE}/packs/abc"), 404)


def test_delete_a_pack_by_name_and_by_id(api: APIClient) -> None:
    first = api.post(f"{BASE}/packs", {"name": "first"}).json()["pack"]["id"]
    api.post(f"{BASE}/packs", {"name": "42"})
    assert api.delete(f"{BASE}/packs/42").json() == {}  # by name, even when the name looks like an id
    assert api.delete(f"{V1}/packs/id/{first}").json() == {}
    assert not Pack.objects.exists()
    assert [a.details for a in Activity.objects.filter(type="deleted_pack").order_by("id")] == [
        {"pack_name": "42"},
        {"pack_name": "first"},
    ]
    assert_error(api.delete(f"{BASE}/packs/nope"), 404)
    assert_error(api.delete(f"{BASE}/packs/id/{first}"), 404)


@pytest.mark.parametrize("persona", ["observer", "maintainer", "global_observer"])
def test_only_global_admins_and_maintainers_reach_packs(
    request: pytest.FixtureRequest, api_client_as: Callable[[User | None], APIClient], persona: str
) -> None:
    pack = Pack.objects.create(name="audit")
    client = api_client_as(request.getfixturevalue(persona))
    assert_error(client.get(f"{BASE}/packs"), 403)
    assert_error(client.get(f"{BASE}/packs/{pack.pk}"), 403)
    assert_error(client.post(f"{BASE}/packs", {"name": "mine"}), 403)
    assert_error(client.delete(f"{BASE}/packs/audit"), 403)
    assert_error(client.get(f"{BASE}/spec/packs"), 403)
    assert Pack.objects.count() == 1


def test_a_global_maintainer_manages_packs(api_client_as: Callable[[User | None], APIClient], global_maintainer: User):
    client = api_client_as(global_maintainer)
    assert client.post(f"{BASE}/packs", {"name": "mine"}).status_code == 200
    assert client.delete(f"{BASE}/packs/mine").status_code == 200


# --- queries scheduled in a pack -------------------------------------------------------------------


def test_schedule_queries_in_a_pack(api: APIClient, query: Query) -> None:
    pack = Pack.objects.create(name="audit")
    body = {"pack_id": pack.pk, "query_id": query.pk, "interval": 60, "snapshot": True, "shard": 10}
    first = api.post(f"{BASE}/packs/schedule", body)
    assert first.status_code == 200, first.content
    scheduled = first.json()["scheduled"]
    assert set(scheduled) == SCHEDULED_KEYS
    assert (scheduled["name"], scheduled["query_name"], scheduled["query"]) == ("users", "users", query.query)
    options = (scheduled["interval"], scheduled["snapshot"], scheduled["removed"], scheduled["shard"])
    assert options == (60, True, None, 10)
    second = api.post(f"{V1}/schedule", body).json()["scheduled"]  # v1's name for the same endpoint
    assert second["name"] == "users-1"
    listed = api.get(f"{BASE}/packs/{pack.pk}/scheduled").json()["scheduled"]
    assert [s["name"] for s in listed] == ["users", "users-1"]
    assert api.get(f"{BASE}/packs/{pack.pk}").json()["pack"]["query_count"] == 2
    assert api.get(f"{BASE}/schedule/{second['id']}").json()["scheduled"]["id"] == second["id"]


@pytest.mark.parametrize("interval", [0, 604_801, None])
def test_a_pack_query_needs_a_valid_interval(api: APIClient, query: Query, interval: int | None) -> None:
    pack = Pack.objects.create(name="audit")
    body = {"pack_id": pack.pk, "query_id": query.pk, "interval": interval}
    assert_error(api.post(f"{BASE}/packs/schedule", body), 400, "invalid scheduled query interval")


def test_modify_and_delete_a_pack_query(api: APIClient, query: Query) -> None:
    pack = Pack.objects.create(name="audit")
    scheduled = PackQuery.objects.create(pack=pack, query=query, name="users", interval=60, shard=5)
    response = api.patch(f"{BASE}/packs/schedule/{scheduled.pk}", {"interval": 120, "removed": False, "shard": None})
    assert response.status_code == 200, response.content
    body = response.json()["scheduled"]
    assert (body["interval"], body["removed"], body["shard"]) == (120, False, None)
    v1 = api.patch(f"{V1}/schedule/{scheduled.pk}", {"platform": "linux"}).json()["scheduled"]
    assert v1["platform"] == "linux" and v1["interval"] == 120
    assert_error(api.patch(f"{BASE}/packs/schedule/{scheduled.pk}", {"interval": 0}), 400)
    assert api.delete(f"{V1}/schedule/{scheduled.pk}").json() == {}
    assert_error(api.delete(f"{BASE}/packs/schedule/{scheduled.pk}"), 404, "ScheduledQuery")
    assert_error(api.post(f"{BASE}/packs/schedule", {"pack_id": pack.pk, "query_id": 999, "interval": 5}), 404)


# --- pack specs ------------------------------------------------------------------------------------


def _spec(**extra: Any) -> dict[str, Any]:
    return {
        "name": "audit",
        "targets": {"labels": ["servers"], "teams": ["Team A"]},
        "queries": [{"query": "users", "name": "all users", "interval": 300, "removed": False}],
        **extra,
    }


def test_apply_and_get_pack_specs(api: APIClient, query: Query, team: Team) -> None:
    Label.objects.create(name="servers", query="SELECT 1")
    team.name = "Team A"
    team.save()
    assert api.post(f"{BASE}/spec/packs", {"specs": [_spec()]}).json() == {}
    pack = Pack.objects.get(name="audit")
    assert list(pack.scheduled.values_list("name", "interval", "removed")) == [("all users", 300, False)]
    assert Activity.objects.filter(type="applied_spec_pack").count() == 1
    specs = api.get(f"{BASE}/spec/packs").json()["specs"]
    assert specs == [
        {
            "id": pack.pk,
            "name": "audit",
            "description": "",
            "platform": "",
            "disabled": False,
            "targets": {"labels": ["servers"], "teams": ["Team A"]},
            "queries": [{"query": "users", "name": "all users", "description": "", "interval": 300, "removed": False}],
        }
    ]
    assert api.get(f"{V1}/spec/packs/audit").json()["specs"] == specs[0]
    # Applying again replaces the queries and targets.
    api.post(f"{BASE}/spec/packs", {"specs": [_spec(targets={"labels": []}, queries=[], disabled=True)]})
    pack.refresh_from_db()
    assert pack.disabled and not pack.scheduled.exists() and not pack.labels.exists() and not pack.teams.exists()
    assert_error(api.get(f"{BASE}/spec/packs/nope"), 404)


def test_applying_the_same_pack_specs_again_writes_and_records_nothing(
    api: APIClient, query: Query, team: Team
) -> None:
    Label.objects.create(name="servers", query="SELECT 1")
    team.name = "Team A"
    team.save()
    api.post(f"{BASE}/spec/packs", {"specs": [_spec()]})
    scheduled = list(PackQuery.objects.values_list("pk", "updated_at"))
    assert api.post(f"{BASE}/spec/packs", {"specs": [_spec()]}).status_code == 200
    assert list(PackQuery.objects.values_list("pk", "updated_at")) == scheduled
    assert Activity.objects.filter(type="applied_spec_pack").count() == 1
    api.post(f"{BASE}/spec/packs", {"specs": [_spec(description="changed")]})
    assert Activity.objects.filter(type="applied_spec_pack").count() == 2


@pytest.mark.parametrize(
    ("spec", "status"),
    [
        ({"name": "", "queries": []}, 400),
        (_spec(targets={}, queries=[{"query": "users", "interval": 0}]), 400),
        (_spec(targets={}, queries=[{"query": "no such query", "interval": 60}]), 422),
        (_spec(targets={"labels": ["no such label"]}, queries=[]), 422),
        ({"name": "x", "queries": "users"}, 422),
    ],
)
def test_bad_pack_specs_change_nothing(api: APIClient, query: Query, spec: dict, status: int) -> None:
    assert_error(api.post(f"{BASE}/spec/packs", {"specs": [spec]}), status)
    assert not Pack.objects.exists()


def test_specs_for_fleet_own_packs_are_skipped(api: APIClient) -> None:
    assert api.post(f"{BASE}/spec/packs", {"specs": [{"name": "Global"}, {"name": "team-1"}]}).status_code == 200
    assert not Pack.objects.exists()


# --- global and team schedules over saved queries -------------------------------------------------


def test_global_schedule_copies_a_global_query(api: APIClient, query: Query) -> None:
    Query.objects.create(name="scheduled", query="SELECT 2", interval=60, automations_enabled=True)
    Query.objects.create(name="unscheduled", query="SELECT 3")
    assert [s["name"] for s in api.get(f"{BASE}/schedule").json()["global_schedule"]] == ["scheduled"]
    assert [s["name"] for s in api.get(f"{V1}/global/schedule").json()["global_schedule"]] == ["scheduled"]
    body = {"query_id": query.pk, "interval": 3600, "snapshot": False, "removed": True}
    response = api.post(f"{BASE}/schedule", body)
    assert response.status_code == 200, response.content
    scheduled = response.json()["scheduled"]
    assert set(scheduled) == SCHEDULED_KEYS
    assert scheduled["name"].startswith("Copy of users (") and scheduled["query"] == query.query
    assert (scheduled["interval"], scheduled["snapshot"], scheduled["removed"]) == (3600, False, True)
    copy = Query.objects.get(pk=scheduled["id"])
    assert copy.team_id is None and copy.automations_enabled and copy.logging == "differential"
    modified = api.patch(f"{BASE}/schedule/{copy.pk}", {"interval": 120, "platform": "linux"}).json()["scheduled"]
    assert (modified["interval"], modified["platform"]) == (120, "linux")
    assert api.patch(f"{V1}/global/schedule/{copy.pk}", {"version": "5.9.1"}).json()["scheduled"]["version"] == "5.9.1"
    assert_error(api.patch(f"{BASE}/schedule/{copy.pk}", {"platform": "beos"}), 422)
    assert api.delete(f"{BASE}/schedule/{copy.pk}").json() == {}
    assert not Query.objects.filter(pk=copy.pk).exists()


def test_a_team_query_is_not_reached_through_the_global_schedule(api: APIClient, team: Team) -> None:
    team_query = Query.objects.create(name="t", query="SELECT 1", team=team, interval=60)
    assert_error(api.patch(f"{BASE}/schedule/{team_query.pk}", {"interval": 5}), 404, "Report")
    assert_error(api.delete(f"{V1}/global/schedule/{team_query.pk}"), 404)
    assert_error(api.post(f"{BASE}/schedule", {"query_id": team_query.pk, "interval": 5}), 400, "team query")
    assert_error(api.post(f"{BASE}/schedule", {"query_id": "x"}), 422)


@pytest.mark.parametrize("word", ["teams", "team", "fleets"])
def test_team_schedule_under_each_name(api: APIClient, query: Query, team: Team, word: str) -> None:
    url = f"{BASE}/{word}/{team.pk}/schedule"
    response = api.post(url, {"query_id": query.pk, "interval": 600})
    assert response.status_code == 200, response.content
    scheduled = response.json()["scheduled"]
    assert Query.objects.get(pk=scheduled["id"]).team_id == team.pk
    assert [s["id"] for s in api.get(url).json()["scheduled"]] == [scheduled["id"]]
    assert api.patch(f"{url}/{scheduled['id']}", {"interval": 30}).json() == {}
    assert Query.objects.get(pk=scheduled["id"]).interval == 30
    assert api.delete(f"{url}/{scheduled['id']}").json() == {}
    assert api.get(url).json()["scheduled"] == []


def test_team_schedule_permissions(
    api_client_as: Callable[[User | None], APIClient], query: Query, team: Team, other_team: Team, observer: User,
    outsider: User, maintainer: User,
) -> None:  # fmt: skip
    team_query = Query.objects.create(name="t", query="SELECT 1", team=team, interval=60, automations_enabled=True)
    url = f"{BASE}/teams/{team.pk}/schedule"
    as_observer, as_outsider = api_client_as(observer), api_client_as(outsider)
    assert [s["id"] for s in as_observer.get(url).json()["scheduled"]] == [team_query.pk]
    assert_error(as_observer.post(url, {"query_id": query.pk, "interval": 60}), 403)
    assert_error(as_observer.delete(f"{url}/{team_query.pk}"), 403)
    assert_error(as_outsider.get(url), 404)
    assert_error(as_outsider.delete(f"{url}/{team_query.pk}"), 404)
    # Another team's path does not reach the query, even for someone who may write both.
    assert_error(api_client_as(maintainer).patch(f"{BASE}/teams/{other_team.pk}/schedule/{team_query.pk}", {}), 404)
    assert api_client_as(maintainer).post(url, {"query_id": query.pk, "interval": 60}).status_code == 200
    assert Query.objects.filter(pk=team_query.pk).exists()


def test_spec_queries_need_unique_names_in_a_pack(api: APIClient, query: Query) -> None:
    spec = _spec(targets={}, queries=[{"query": "users", "interval": 60}, {"query": "users", "interval": 90}])
    assert_error(api.post(f"{BASE}/spec/packs", {"specs": [spec]}), 422, "unique")
    assert not Pack.objects.exists()


def test_a_pack_id_beyond_any_row_is_a_404(api: APIClient) -> None:
    assert_error(api.get(f"{BASE}/packs/{2**70}"), 404)
    assert_error(api.patch(f"{BASE}/packs/-3", {}), 404)
