"""Query, policy and label specs: what `fleetctl apply`, `get` and `gitops` send, by name, all or nothing."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Team, User
from activities.models import Activity
from conftest import APIClient
from hosts.models import Label
from queries.models import Policy, Query, QueryReportRow

pytestmark = pytest.mark.django_db

BASE = "/api/latest/fleet"


def query_spec(name: str, sql: str = "SELECT 1", **extra: Any) -> dict[str, Any]:
    return {"name": name, "query": sql, "interval": 3600, "logging": "snapshot", **extra}


def test_query_specs_create_then_update_by_name_and_team(api: APIClient, team: Team) -> None:
    body = {"specs": [query_spec("uptime"), query_spec("uptime", "SELECT 2", team="Team A")]}
    assert api.post(f"{BASE}/spec/queries", body).status_code == 200
    assert Query.objects.filter(name="uptime").count() == 2
    team_query = Query.objects.get(name="uptime", team=team)
    assert (team_query.query, team_query.interval) == ("SELECT 2", 3600)

    specs = api.get(f"{BASE}/spec/reports", {"fleet_id": team.pk}).json()["specs"]
    assert specs == [
        {
            "name": "uptime",
            "description": "",
            "query": "SELECT 2",
            "team": "Team A",
            "interval": 3600,
            "observer_can_run": False,
            "platform": "",
            "min_osquery_version": "",
            "automations_enabled": False,
            "logging": "snapshot",
            "discard_data": False,
        }
    ]
    assert api.get(f"{BASE}/spec/queries/uptime").json()["specs"]["team"] == ""
    assert api.get(f"{BASE}/spec/queries/nope").status_code == 404


def test_applying_the_same_query_specs_twice_changes_nothing(api: APIClient, team: Team) -> None:
    body = {"specs": [query_spec("a"), query_spec("b", team="Team A")]}
    api.post(f"{BASE}/spec/queries", body)
    stamps = dict(Query.objects.values_list("name", "updated_at"))
    activities = Activity.objects.count()
    assert api.post(f"{BASE}/spec/queries", body).status_code == 200
    assert Activity.objects.count() == activities
    assert dict(Query.objects.values_list("name", "updated_at")) == stamps


def test_a_new_sql_in_a_spec_clears_the_report(api: APIClient, admin: User) -> None:
    from hosts.models import Host

    query = Query.objects.create(name="q", query="SELECT 1", interval=60)
    QueryReportRow.objects.create(query=query, host=Host.objects.create(osquery_host_id="h"), data={"a": 1})
    api.post(f"{BASE}/spec/queries", {"specs": [query_spec("q", "SELECT 2")]})
    assert not QueryReportRow.objects.filter(query=query).exists()


def test_an_invalid_query_spec_rolls_back_the_whole_batch(api: APIClient) -> None:
    body = {"specs": [query_spec("good"), query_spec("bad", "DELETE FROM users")]}
    response = api.post(f"{BASE}/spec/queries", body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["name"] == "specs.1.query"
    assert not Query.objects.exists()


def test_a_query_spec_naming_an_unknown_team_is_a_404_and_writes_nothing(api: APIClient) -> None:
    response = api.post(f"{BASE}/spec/queries", {"specs": [query_spec("x"), query_spec("y", team="Nope")]})
    assert response.status_code == 404
    assert not Query.objects.exists()


def test_observers_cannot_apply_query_specs(
    api_client_as: Any, observer: User, maintainer: User, outsider: User, team: Team
) -> None:
    body = {"specs": [query_spec("x", team="Team A")]}
    assert api_client_as(observer).post(f"{BASE}/spec/queries", body).status_code == 403
    assert api_client_as(outsider).post(f"{BASE}/spec/queries", body).status_code == 404
    assert api_client_as(None).post(f"{BASE}/spec/queries", body).status_code == 401
    # A team maintainer writes their team's queries, not the global ones.
    assert api_client_as(maintainer).post(f"{BASE}/spec/queries", body).status_code == 200
    assert api_client_as(maintainer).post(f"{BASE}/spec/queries", {"specs": [query_spec("g")]}).status_code == 403


def test_policy_specs_create_update_and_are_idempotent(api: APIClient, team: Team) -> None:
    body = {
        "specs": [
            {"name": "disk", "query": "SELECT 1", "resolution": "free space", "platform": "darwin"},
            {"name": "disk", "query": "SELECT 2", "fleet": "Team A", "critical": True},
        ]
    }
    assert api.post(f"{BASE}/spec/policies", body).status_code == 200
    assert Policy.objects.get(team__isnull=True).resolution == "free space"
    assert Policy.objects.get(team=team).critical is True
    activities = Activity.objects.count()
    assert api.post(f"{BASE}/spec/policies", body).status_code == 200
    assert Activity.objects.count() == activities
    body["specs"][0]["query"] = "SELECT 3"
    api.post(f"{BASE}/spec/policies", body)
    assert Policy.objects.get(team__isnull=True).query == "SELECT 3"
    assert Activity.objects.filter(type="applied_spec_policy").count() == 2


def test_an_invalid_policy_spec_rolls_back(api: APIClient) -> None:
    body = {"specs": [{"name": "ok", "query": "SELECT 1"}, {"name": "bad", "query": "", "platform": "beos"}]}
    response = api.post(f"{BASE}/spec/policies", body)
    assert response.status_code == 422
    assert {error["name"] for error in response.json()["errors"]} == {"specs.1.query", "specs.1.platform"}
    assert not Policy.objects.exists()


def test_label_specs_read_back_and_reapply_quietly(api: APIClient) -> None:
    body = {"specs": [{"name": "macs", "query": "SELECT 1 FROM os_version", "platform": "darwin"}]}
    assert api.post(f"{BASE}/spec/labels", body).status_code == 200
    specs = api.get(f"{BASE}/spec/labels").json()["specs"]
    mine = [spec for spec in specs if spec["name"] == "macs"]
    assert mine[0]["query"] == "SELECT 1 FROM os_version"
    assert mine[0]["label_membership_type"] == "dynamic"
    assert api.get(f"{BASE}/spec/labels/macs").json()["specs"]["platform"] == "darwin"
    assert api.get(f"{BASE}/spec/labels/none").status_code == 404
    activities = Activity.objects.count()
    api.post(f"{BASE}/spec/labels", body)
    assert Activity.objects.count() == activities
    assert Label.objects.filter(name="macs").count() == 1


def test_no_team_policies_are_refused_with_a_reason(api: APIClient) -> None:
    response = api.post(f"{BASE}/spec/policies", {"specs": [{"name": "p", "query": "SELECT 1", "team": "No team"}]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["name"] == "team"
    assert not Policy.objects.exists()


def test_team_label_specs_live_in_their_team_and_move_only_when_asked(
    api: APIClient, team: Team, other_team: Team
) -> None:
    body = {"specs": [{"name": "Team macs", "query": "SELECT 1", "platform": "darwin"}]}
    assert api.post(f"{BASE}/spec/labels?fleet_id={team.pk}", body).status_code == 200
    assert Label.objects.get(name="Team macs").team_id == team.pk
    team_specs = api.get(f"{BASE}/spec/labels", {"team_id": team.pk}).json()["specs"]
    assert [spec["name"] for spec in team_specs] == ["Team macs"]
    assert "Team macs" not in [spec["name"] for spec in api.get(f"{BASE}/spec/labels").json()["specs"]]
    # Another team's file naming it is a conflict, unless gitops says the label moves.
    assert api.post(f"{BASE}/spec/labels?team_id={other_team.pk}", body).status_code == 409
    moved = api.post(f"{BASE}/spec/labels?team_id={other_team.pk}", {**body, "names_to_move": ["Team macs"]})
    assert moved.status_code == 200
    assert Label.objects.get(name="Team macs").team_id == other_team.pk


def test_a_team_maintainer_applies_only_their_teams_labels(api_client_as: Any, maintainer: User, team: Team) -> None:
    body = {"specs": [{"name": "mine", "query": "SELECT 1"}]}
    client = api_client_as(maintainer)
    assert client.post(f"{BASE}/spec/labels?team_id={team.pk}", body).status_code == 200
    assert client.post(f"{BASE}/spec/labels", body).status_code == 403
