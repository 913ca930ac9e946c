"""Fleet 4.8's second names: `fleets/`, `reports/` and `fleet_id` work wherever the old ones do.

The URL conf is walked, so a new endpoint is covered without a new test: every route with a
`teams` or `queries` segment answers under the new word too, and every list endpoint answers
`fleet_id=X` exactly as it answers `team_id=X` (a script that says `fleet_id` must never get
unfiltered data), for an admin and for a user of one team.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import URLPattern, get_resolver

from accounts.models import Team, User
from conftest import APIClient
from fleetsite.api.aliases import SEGMENT_ALIASES, with_new_names
from fleetsite.urls import rest_patterns
from hosts.models import Host
from queries.models import Policy, Query

pytestmark = pytest.mark.django_db
BASE = "/api/latest/fleet"


def _routes() -> list[URLPattern]:
    return [p for p in rest_patterns if isinstance(p, URLPattern)]


def _parameterless_get_routes() -> list[str]:
    """REST routes without path parameters whose view answers GET."""
    routes = []
    for pattern in _routes():
        route = str(pattern.pattern)
        view_class = getattr(pattern.callback, "view_class", None)
        if "<" not in route and view_class is not None and hasattr(view_class, "get"):
            routes.append(route)
    return routes


def test_every_teams_and_queries_route_has_its_fleet_48_name() -> None:
    routes = {str(p.pattern): p.callback for p in _routes()}
    old_words = [route for route in routes if set(route.split("/")) & set(SEGMENT_ALIASES)]
    assert len(old_words) > 15
    for route in old_words:
        alias = "/".join(SEGMENT_ALIASES.get(segment, segment) for segment in route.split("/"))
        assert alias in routes, route
        assert routes[alias] is routes[route], route


@pytest.mark.parametrize(
    "path", ["fleets", "fleets/{team}", "fleets/{team}/users", "fleets/{team}/secrets", "reports", "reports/run"]
)
def test_new_paths_resolve_to_the_old_views(path: str, team: Team) -> None:
    old = path.replace("fleets", "teams").replace("reports", "queries")
    resolver = get_resolver()
    new_match = resolver.resolve(f"{BASE}/{path.format(team=team.pk)}")
    old_match = resolver.resolve(f"{BASE}/{old.format(team=team.pk)}")
    assert new_match.func is old_match.func


@pytest.fixture
def two_teams(team: Team, other_team: Team) -> dict[str, Any]:
    for owner, name in ((team, "a"), (other_team, "b"), (None, "n")):
        Host.objects.create(osquery_host_id=name, hostname=name, team=owner)
        Query.objects.create(name=f"query {name}", query="SELECT 1;", team=owner)
        Policy.objects.create(name=f"policy {name}", query="SELECT 1;", team=owner)
    return {"a": team, "b": other_team}


def _comparable(response: Any) -> tuple[int, Any]:
    if response.get("Content-Type", "").startswith("application/json"):
        return response.status_code, response.json()
    if getattr(response, "streaming", False):
        return response.status_code, b"".join(response.streaming_content)
    return response.status_code, response.content


@pytest.mark.parametrize("route", _parameterless_get_routes())
def test_every_list_filters_by_fleet_id_as_by_team_id(
    route: str, two_teams: dict[str, Any], admin: User, maintainer: User, api_client_as: Callable[..., APIClient]
) -> None:
    for user in (admin, maintainer):  # maintainer: of team A only
        client = api_client_as(user)
        for team in two_teams.values():
            by_team = client.get(f"{BASE}/{route}", {"team_id": team.pk})
            by_fleet = client.get(f"{BASE}/{route}", {"fleet_id": team.pk})
            assert _comparable(by_fleet) == _comparable(by_team), (route, user.email, team.name)


def test_fleet_id_filters_hosts_and_a_team_user_cannot_widen_it(
    two_teams: dict[str, Any], maintainer: User, api_client_as: Callable[..., APIClient]
) -> None:
    client = api_client_as(maintainer)
    assert [h["hostname"] for h in client.get(f"{BASE}/hosts", {"fleet_id": two_teams["a"].pk}).json()["hosts"]] == [
        "a"
    ]
    assert client.get(f"{BASE}/hosts", {"fleet_id": two_teams["b"].pk}).json()["hosts"] == []
    assert client.get(f"{BASE}/fleets/{two_teams['b'].pk}").status_code == 404
    assert client.get(f"{BASE}/fleets/{two_teams['a'].pk}").status_code == 200


def test_fleet_id_in_a_body_is_team_id(
    two_teams: dict[str, Any], maintainer: User, api_client_as: Callable[..., APIClient]
) -> None:
    client = api_client_as(maintainer)
    host_a = Host.objects.get(hostname="a")
    # Moving a host to a team the maintainer cannot see is refused alike under either name.
    refusals = [
        client.post(f"{BASE}/hosts/transfer", {key: two_teams["b"].pk, "hosts": [host_a.pk]})
        for key in ("team_id", "fleet_id")
    ]
    assert [r.status_code for r in refusals] == [404, 404]
    assert Host.objects.get(pk=host_a.pk).team_id == two_teams["a"].pk
    created = client.post(f"{BASE}/reports", {"name": "new", "query": "SELECT 1;", "fleet_id": two_teams["a"].pk})
    assert created.status_code == 200
    assert created.json()["query"]["team_id"] == two_teams["a"].pk


def test_fleet_id_and_team_id_that_differ_are_refused(two_teams: dict[str, Any], api: APIClient) -> None:
    a, b = two_teams["a"].pk, two_teams["b"].pk
    response = api.get(f"{BASE}/hosts", {"team_id": a, "fleet_id": b})
    assert response.status_code == 400
    assert "fleet_id and team_id" in response.json()["errors"][0]["reason"]
    assert (
        api.post(f"{BASE}/queries", {"name": "x", "query": "SELECT 1;", "team_id": a, "fleet_id": b}).status_code == 400
    )


def test_answers_carry_both_names_as_fleet_48_writes_them() -> None:
    answer = {
        "team_id": 5,
        "query": {"query_id": 2, "name": "q"},
        "teams": [{"id": 1, "team_id": 1, "users": [{"teams": [{"id": 3}]}]}],
        "agent_options": {"team_id": 9},
        "fleet_name": "kept",
        "team_name": "ignored for fleet_name",
    }
    renamed = with_new_names(answer)
    assert (renamed["team_id"], renamed["fleet_id"]) == (5, 5)
    assert renamed["query"] == {"query_id": 2, "name": "q"}
    assert renamed["report"] == {"report_id": 2, "name": "q"}
    assert with_new_names({"query": "SELECT 1"}) == {"query": "SELECT 1"}, "SQL text is not a report"
    assert renamed["teams"] == answer["teams"]
    assert renamed["fleets"] == [{"id": 1, "fleet_id": 1, "users": [{"fleets": [{"id": 3}]}]}]
    assert renamed["agent_options"] == {"team_id": 9}, "the user's own options are never renamed"
    assert renamed["fleet_name"] == "kept", "a name the view wrote itself wins"


def test_a_list_answer_names_its_team_both_ways(api: APIClient, two_teams: dict[str, Any]) -> None:
    body = api.get(f"{BASE}/queries", {"team_id": two_teams["a"].pk, "merge_inherited": "true"}).json()
    assert {q["team_id"] for q in body["queries"]} == {None, two_teams["a"].pk}
    assert [r["fleet_id"] for r in body["reports"]] == [q["team_id"] for q in body["queries"]]
    assert all("team_id" not in r for r in body["reports"]), "the new tree speaks only the new names"
    assert body["inherited_report_count"] == body["inherited_query_count"]
