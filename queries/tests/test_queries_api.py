"""Saved queries REST (fleet-protocol §4.4): CRUD, validation texts, team scoping, `/reports` aliases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from accounts.models import Team, User
from activities.models import Activity
from conftest import APIClient
from queries.models import Query

pytestmark = pytest.mark.django_db

QUERIES = "/api/latest/fleet/queries"
REPORTS = "/api/latest/fleet/reports"
QUERY_KEYS = {
    "id", "team_id", "interval", "platform", "min_osquery_version", "automations_enabled", "logging",
    "name", "description", "query", "saved", "observer_can_run", "author_id", "author_name", "author_email", "packs",
    "stats", "discard_data", "report_max_rows", "report_max_age_days", "created_at", "updated_at",
}  # fmt: skip


def body_of(response: Any) -> Any:
    return orjson.loads(response.content)


def make_query(name: str, team: Team | None = None, **fields: Any) -> Query:
    return Query.objects.create(name=name, query=fields.pop("query", "SELECT 1"), team=team, **fields)


def assert_error(response: Any, status: int, name: str | None = None, reason: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = body_of(response)
    if name is not None:
        assert body["errors"][0]["name"] == name, body
    if reason is not None:
        assert reason in body["errors"][0]["reason"], body
    return body


# --- create ------------------------------------------------------------------------------------


def test_admin_creates_a_global_query_with_fleet_defaults(api: APIClient, admin: User) -> None:
    response = api.post(QUERIES, {"name": "users", "query": "SELECT * FROM users"})
    assert response.status_code == 200, response.content
    body = body_of(response)
    assert body["report"]["id"] == body["query"]["id"] and body["report"]["fleet_id"] == body["query"]["team_id"]
    query = body["query"]
    assert set(query) == QUERY_KEYS
    assert query["team_id"] is None and query["interval"] == 0 and query["logging"] == "snapshot"
    assert query["saved"] is True and query["packs"] == [] and query["stats"]["total_executions"] == 0
    assert (query["author_id"], query["author_email"]) == (admin.pk, admin.email)
    activity = Activity.objects.get(type="created_saved_query")
    assert activity.details == {"query_id": query["id"], "query_name": "users", "team_id": None, "team_name": None}


def test_create_with_every_field(api: APIClient, team: Team) -> None:
    payload = {
        "name": "procs",
        "description": "running processes",
        "query": "SELECT name FROM processes",
        "team_id": team.pk,
        "interval": 3600,
        "platform": "darwin, linux",
        "min_osquery_version": "5.9.1",
        "automations_enabled": True,
        "logging": "differential",
        "observer_can_run": True,
        "discard_data": True,
        "report_max_rows": 50,
        "report_max_age_days": 7,
    }
    query = body_of(api.post(QUERIES, payload))["query"]
    assert query["team_id"] == team.pk and query["platform"] == "darwin,linux"
    assert {key: query[key] for key in ("interval", "logging", "report_max_rows", "report_max_age_days")} == {
        "interval": 3600,
        "logging": "differential",
        "report_max_rows": 50,
        "report_max_age_days": 7,
    }


@pytest.mark.parametrize(
    ("payload", "name", "reason"),
    [
        ({"name": "", "query": "SELECT 1"}, "name", "query name cannot be empty"),
        ({"name": "   ", "query": "SELECT 1"}, "name", "query name cannot be empty"),
        ({"query": "SELECT 1"}, "name", "query name cannot be empty"),
        ({"name": "x", "query": ""}, "query", "query's SQL query cannot be empty"),
        ({"name": "x"}, "query", "query's SQL query cannot be empty"),
        (
            {"name": "x", "query": "SELECT 1", "logging": "sometimes"},
            "logging",
            "invalid logging value, must be one of 'snapshot', 'differential', 'differential_ignore_removals'",
        ),
        ({"name": "x", "query": "SELECT * FROM"}, "query", "syntax error: incomplete input (line 1, column 14)"),
        ({"name": "x", "query": "SELECT 1 FROM t t2 t3"}, "query", 'syntax error near "t3" (line 1, column 20)'),
        ({"name": "x", "query": "DELETE FROM users"}, "query", "only read statements"),
        ({"name": "x", "query": "SELECT 1; DROP TABLE users"}, "query", "not DROP (line 1, column 11)"),
        ({"name": "x", "query": "SELECT 1", "platform": "beos"}, "platform", "invalid platform value"),
        ({"name": "x", "query": "SELECT 1", "interval": -1}, "interval", None),
        ({"name": "x", "query": "SELECT 1", "interval": 604801}, "interval", None),
        ({"name": "x", "query": "SELECT 1", "interval": "often"}, "interval", None),
        ({"name": "x", "query": "SELECT 1", "min_osquery_version": "latest"}, "min_osquery_version", None),
        ({"name": "x", "query": "SELECT 1", "report_max_rows": 0}, "report_max_rows", None),
        ({"name": "x", "query": "SELECT 1", "automations_enabled": "maybe"}, "automations_enabled", None),
        ({"name": "x" * 256, "query": "SELECT 1"}, "name", None),
        ({"name": "x", "query": "SELECT 1", "team_id": -1}, "team_id", None),
        (["not", "an", "object"], "base", None),
    ],
)
def test_create_rejects_bad_input_with_422(api: APIClient, payload: Any, name: str, reason: str | None) -> None:
    body = assert_error(api.post(QUERIES, payload), 422, name, reason)
    assert body["message"] == "Validation Failed"
    assert not Query.objects.exists()


def test_malformed_json_is_a_400(api: APIClient) -> None:
    response = api.client.post(QUERIES, data=b"{nope", content_type="application/json", headers=api.headers)
    assert_error(response, 400)


def test_duplicate_name_in_a_team_is_409_but_other_teams_may_reuse_it(api: APIClient, team: Team) -> None:
    assert api.post(QUERIES, {"name": "dup", "query": "SELECT 1"}).status_code == 200
    body = assert_error(api.post(QUERIES, {"name": "dup", "query": "SELECT 2"}), 409)
    assert body["message"] == "Resource Already Exists"
    assert api.post(QUERIES, {"name": "dup", "query": "SELECT 1", "team_id": team.pk}).status_code == 200
    assert_error(api.post(QUERIES, {"name": "dup", "query": "SELECT 1", "team_id": team.pk}), 409)


def test_create_in_an_unknown_team_is_404(api: APIClient) -> None:
    assert_error(api.post(QUERIES, {"name": "x", "query": "SELECT 1", "team_id": 999}), 404)


def test_fleet_id_is_team_id(api: APIClient, team: Team) -> None:
    query = body_of(api.post(QUERIES, {"name": "x", "query": "SELECT 1", "fleet_id": team.pk}))["query"]
    assert query["team_id"] == team.pk


# --- permissions -------------------------------------------------------------------------------


def test_team_maintainer_writes_their_team_only(
    api_client_as: Callable[[User | None], APIClient], maintainer: User, team: Team, other_team: Team
) -> None:
    client = api_client_as(maintainer)
    assert client.post(QUERIES, {"name": "mine", "query": "SELECT 1", "team_id": team.pk}).status_code == 200
    assert_error(client.post(QUERIES, {"name": "global", "query": "SELECT 1"}), 403)
    assert_error(client.post(QUERIES, {"name": "theirs", "query": "SELECT 1", "team_id": other_team.pk}), 404)
    global_query = make_query("global")
    assert_error(client.patch(f"{QUERIES}/{global_query.pk}", {"name": "renamed"}), 403)
    assert_error(client.delete(f"{QUERIES}/id/{global_query.pk}"), 403)


def test_observer_reads_but_cannot_write(
    api_client_as: Callable[[User | None], APIClient], observer: User, team: Team
) -> None:
    query = make_query("team query", team)
    client = api_client_as(observer)
    assert client.get(f"{QUERIES}/{query.pk}").status_code == 200
    assert body_of(client.get(QUERIES, {"team_id": team.pk}))["count"] == 1
    assert_error(client.post(QUERIES, {"name": "x", "query": "SELECT 1", "team_id": team.pk}), 403)
    assert_error(client.patch(f"{QUERIES}/{query.pk}", {"description": "x"}), 403)
    assert_error(client.delete(f"{QUERIES}/{query.name}", None), 404)  # global scope: no such query
    assert_error(client.delete(f"{QUERIES}/{query.name}?team_id={team.pk}"), 403)
    assert_error(client.post(f"{QUERIES}/delete", {"ids": [query.pk]}), 403)
    assert Query.objects.filter(pk=query.pk).exists()


def test_outsider_gets_404_for_another_teams_queries(
    api_client_as: Callable[[User | None], APIClient], outsider: User, team: Team
) -> None:
    query = make_query("secret", team)
    global_query = make_query("shared")
    client = api_client_as(outsider)
    for response in (
        client.get(f"{QUERIES}/{query.pk}"),
        client.patch(f"{QUERIES}/{query.pk}", {"name": "x"}),
        client.delete(f"{QUERIES}/id/{query.pk}"),
        client.delete(f"{QUERIES}/secret?team_id={team.pk}"),
        client.post(f"{QUERIES}/delete", {"ids": [query.pk]}),
        client.get(QUERIES, {"team_id": team.pk}),
        client.get(f"{QUERIES}/{query.pk}/report"),
    ):
        assert_error(response, 404)
    # Global queries are inherited by every team's users.
    assert body_of(client.get(QUERIES))["queries"][0]["id"] == global_query.pk
    assert client.get(f"{QUERIES}/{global_query.pk}").status_code == 200
    assert Query.objects.count() == 2


@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
def test_anonymous_gets_401(db: None, method: str) -> None:
    client = APIClient()
    query = make_query("x")
    path = {"get": QUERIES, "post": QUERIES, "patch": f"{QUERIES}/{query.pk}", "delete": f"{QUERIES}/id/{query.pk}"}
    assert_error(getattr(client, method)(path[method], {}) if method != "get" else client.get(path[method]), 401)


# --- list --------------------------------------------------------------------------------------


def test_list_global_team_and_merged(api: APIClient, team: Team) -> None:
    make_query("b global")
    make_query("a global")
    make_query("team one", team)
    make_query("adhoc", saved=False)
    body = body_of(api.get(QUERIES))
    assert [q["name"] for q in body["queries"]] == ["a global", "b global"]
    assert [r["id"] for r in body["reports"]] == [q["id"] for q in body["queries"]]
    assert body["count"] == 2 and body["meta"] == {"has_next_results": False, "has_previous_results": False}
    assert [q["name"] for q in body_of(api.get(QUERIES, {"team_id": team.pk}))["queries"]] == ["team one"]
    merged = body_of(api.get(QUERIES, {"team_id": team.pk, "merge_inherited": "true"}))
    assert [q["name"] for q in merged["queries"]] == ["a global", "b global", "team one"]
    assert merged["inherited_query_count"] == merged["inherited_report_count"] == 2


def test_list_search_order_and_paging(api: APIClient) -> None:
    for name in ("alpha", "beta", "gamma", "alphabet"):
        make_query(name)
    assert [q["name"] for q in body_of(api.get(QUERIES, {"query": "alph"}))["queries"]] == ["alpha", "alphabet"]
    page = body_of(api.get(QUERIES, {"order_key": "name", "order_direction": "desc", "per_page": 2, "page": 1}))
    assert [q["name"] for q in page["queries"]] == ["alphabet", "alpha"]
    assert page["meta"] == {"has_next_results": False, "has_previous_results": True} and page["count"] == 4


def test_list_platform_filter_includes_all_platform_queries(api: APIClient) -> None:
    make_query("mac", platform="darwin")
    make_query("win", platform="windows")
    make_query("any")
    assert [q["name"] for q in body_of(api.get(QUERIES, {"platform": "darwin"}))["queries"]] == ["any", "mac"]


@pytest.mark.parametrize(
    "params",
    [
        {"order_key": "nope"},
        {"order_direction": "sideways"},
        {"per_page": "x"},
        {"page": "-1"},
        {"team_id": "abc"},
        {"platform": "beos"},
    ],
)
def test_list_bad_parameters_are_400(api: APIClient, params: dict) -> None:
    assert_error(api.get(QUERIES, params), 400)


# --- get, modify -------------------------------------------------------------------------------


def test_get_and_patch(api: APIClient) -> None:
    query = make_query("x", interval=60)
    assert body_of(api.get(f"{QUERIES}/{query.pk}"))["query"]["name"] == "x"
    body = body_of(api.patch(f"{QUERIES}/{query.pk}", {"description": "new", "logging": "differential"}))
    assert body["query"]["description"] == "new" and body["query"]["interval"] == 60
    assert body["query"]["logging"] == "differential" and body["report"]["logging"] == "differential"
    assert Activity.objects.filter(type="edited_saved_query").count() == 1


@pytest.mark.parametrize(
    ("payload", "name"),
    [
        ({"name": ""}, "name"),
        ({"query": ""}, "query"),
        ({"query": "UPDATE users SET uid = 0"}, "query"),
        ({"logging": "nope"}, "logging"),
        ({"interval": -5}, "interval"),
    ],
)
def test_patch_validates_like_create(api: APIClient, payload: dict, name: str) -> None:
    query = make_query("x")
    assert_error(api.patch(f"{QUERIES}/{query.pk}", payload), 422, name)
    query.refresh_from_db()
    assert query.name == "x" and query.query == "SELECT 1"


def test_patch_rename_to_a_taken_name_is_409(api: APIClient) -> None:
    make_query("taken")
    query = make_query("x")
    assert_error(api.patch(f"{QUERIES}/{query.pk}", {"name": "taken"}), 409)


def test_patch_cannot_move_a_query_to_another_team(api: APIClient, team: Team) -> None:
    query = make_query("x")
    assert body_of(api.patch(f"{QUERIES}/{query.pk}", {"team_id": team.pk}))["query"]["team_id"] is None


def test_unknown_and_adhoc_queries_are_404(api: APIClient) -> None:
    adhoc = make_query("adhoc", saved=False)
    assert_error(api.get(f"{QUERIES}/{adhoc.pk}"), 404)
    assert_error(api.get(f"{QUERIES}/999999"), 404, "base", "Query 999999 was not found in the datastore")
    assert_error(api.get(f"{QUERIES}/not-a-number"), 404)
    assert_error(api.patch(f"{QUERIES}/999999", {"name": "x"}), 404)


# --- delete ------------------------------------------------------------------------------------


def test_delete_by_name_global_and_team(api: APIClient, team: Team) -> None:
    make_query("same")
    team_query = make_query("same", team)
    assert body_of(api.delete(f"{QUERIES}/same")) == {}
    assert list(Query.objects.values_list("pk", flat=True)) == [team_query.pk]
    assert_error(api.delete(f"{QUERIES}/same"), 404)
    assert api.delete(f"{QUERIES}/same?team_id={team.pk}").status_code == 200
    assert not Query.objects.exists()
    assert Activity.objects.filter(type="deleted_saved_query").count() == 2


def test_delete_by_numeric_name_is_by_name(api: APIClient) -> None:
    named = make_query("42")
    assert api.delete(f"{QUERIES}/42").status_code == 200
    assert not Query.objects.filter(pk=named.pk).exists()


def test_delete_by_id(api: APIClient) -> None:
    query = make_query("x")
    assert body_of(api.delete(f"{QUERIES}/id/{query.pk}")) == {}
    assert_error(api.delete(f"{QUERIES}/id/{query.pk}"), 404)


def test_batch_delete(api: APIClient, team: Team) -> None:
    ids = [make_query(name).pk for name in ("a", "b")] + [make_query("c", team).pk]
    assert body_of(api.post(f"{QUERIES}/delete", {"ids": ids})) == {"deleted": 3}
    activity = Activity.objects.get(type="deleted_multiple_saved_query")
    assert activity.details["query_ids"] == ids


@pytest.mark.parametrize("payload", [{}, {"ids": []}, {"ids": "1"}, {"ids": ["a"]}, {"ids": [0]}, [1, 2]])
def test_batch_delete_bad_input_is_422(api: APIClient, payload: Any) -> None:
    make_query("keep")
    assert_error(api.post(f"{QUERIES}/delete", payload), 422)
    assert Query.objects.count() == 1


def test_batch_delete_with_an_unknown_id_deletes_nothing(api: APIClient) -> None:
    query = make_query("keep")
    assert_error(api.post(f"{QUERIES}/delete", {"ids": [query.pk, 999999]}), 404)
    assert Query.objects.count() == 1


# --- aliases -----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "2022-04", "latest"])
def test_reports_alias_and_versions(api: APIClient, version: str) -> None:
    base = f"/api/{version}/fleet"
    created = body_of(api.post(f"{base}/reports", {"name": "x", "query": "SELECT 1"}))
    assert created["report"]["name"] == "x"
    listed = body_of(api.get(f"{base}/reports"))
    assert [r["name"] for r in listed["reports"]] == [q["name"] for q in listed["queries"]] == ["x"]
    assert api.get(f"{base}/queries/{created['query']['id']}").status_code == 200
    assert api.post(f"{base}/reports/delete", {"ids": [created["query"]["id"]]}).status_code == 200


def test_fixed_words_are_not_taken_for_query_names(api: APIClient) -> None:
    # `queries/run` belongs to live queries; a DELETE there must not reach delete-by-name.
    make_query("run")
    assert api.delete(f"{QUERIES}/run").status_code == 405
    assert Query.objects.filter(name="run").exists()


def test_batch_delete_refuses_ids_past_the_largest_key_with_a_422(api) -> None:
    """An id no row can have is bad input (found by schemathesis: SQLite could not bind it, a 500)."""
    for path in ("/api/latest/fleet/queries/delete", "/api/latest/fleet/reports/delete"):
        response = api.post(path, {"ids": [2**63]})
        assert response.status_code == 422, response.content[:300]
        assert response.json()["errors"][0]["name"].startswith("ids")
