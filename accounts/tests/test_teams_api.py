"""Teams REST API (fleet-protocol §4.3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from accounts.models import Team, User
from conftest import APIClient
from enrollment import secrets as enroll_secrets
from hosts.models import Host

pytestmark = pytest.mark.django_db

TEAM_KEYS = {"id", "name", "description", "host_count", "user_count", "agent_options", "secrets", "features"}


def body_of(response: Any) -> Any:
    return orjson.loads(response.content)


@pytest.fixture
def populated_teams(team: Team, other_team: Team, maintainer: User, observer: User, outsider: User) -> dict[str, Any]:
    """Team A: two hosts, maintainer and observer, one secret. Team B: one host, the outsider, one secret."""
    Host.objects.create(osquery_host_id="a1", hostname="a1", team=team)
    Host.objects.create(osquery_host_id="a2", hostname="a2", team=team)
    Host.objects.create(osquery_host_id="b1", hostname="b1", team=other_team)
    Host.objects.create(osquery_host_id="none", hostname="none")
    return {
        "a_secret": enroll_secrets.add(team, "team-a-secret").secret,
        "b_secret": enroll_secrets.add(other_team, "team-b-secret").secret,
    }


def test_admin_lists_every_team_with_counts_and_secrets(
    api: APIClient, team: Team, other_team: Team, populated_teams: dict[str, Any]
) -> None:
    response = api.get("/api/latest/fleet/teams")
    assert response.status_code == 200
    teams = {t["name"]: t for t in body_of(response)["teams"]}
    assert set(teams) == {"Team A", "Team B"}
    assert teams["Team A"].keys() >= TEAM_KEYS
    assert (teams["Team A"]["host_count"], teams["Team A"]["user_count"]) == (2, 2)
    assert (teams["Team B"]["host_count"], teams["Team B"]["user_count"]) == (1, 1)
    assert [s["secret"] for s in teams["Team A"]["secrets"]] == ["team-a-secret"]
    assert teams["Team A"]["secrets"][0]["team_id"] == team.pk
    assert [s["secret"] for s in teams["Team B"]["secrets"]] == ["team-b-secret"]


def test_teams_are_also_listed_as_fleets(api: APIClient, populated_teams: dict[str, Any]) -> None:
    body = body_of(api.get("/api/latest/fleet/teams"))
    assert [t["name"] for t in body["fleets"]] == [t["name"] for t in body["teams"]]
    # Fleet 4.8 writes the `fleets` tree in the new names only, the `teams` tree in the old.
    secrets = [s for t in body["fleets"] for s in t["secrets"]]
    assert secrets and all("fleet_id" in s and "team_id" not in s for s in secrets)
    assert all("team_id" in s and "fleet_id" not in s for t in body["teams"] for s in t["secrets"])
    assert body_of(api.get("/api/v1/fleet/fleets"))["teams"] == body["teams"]


def test_team_maintainer_sees_only_its_team_with_secrets(
    api_client_as: Callable[[User | None], APIClient], maintainer: User, populated_teams: dict[str, Any]
) -> None:
    teams = body_of(api_client_as(maintainer).get("/api/latest/fleet/teams"))["teams"]
    assert [t["name"] for t in teams] == ["Team A"]
    assert [s["secret"] for s in teams[0]["secrets"]] == ["team-a-secret"]


def test_team_observer_sees_its_team_without_secrets(
    api_client_as: Callable[[User | None], APIClient], observer: User, populated_teams: dict[str, Any]
) -> None:
    teams = body_of(api_client_as(observer).get("/api/latest/fleet/teams"))["teams"]
    assert [t["name"] for t in teams] == ["Team A"]
    assert teams[0]["secrets"] == []
    assert "team-a-secret" not in orjson.dumps(teams).decode()


def test_global_observer_sees_every_team_without_secrets(
    api_client_as: Callable[[User | None], APIClient], populated_teams: dict[str, Any]
) -> None:
    global_observer = User.objects.create_user("gobs@example.com", "pw-123456789", global_role="observer")
    response = api_client_as(global_observer).get("/api/latest/fleet/teams")
    teams = body_of(response)["teams"]
    assert {t["name"] for t in teams} == {"Team A", "Team B"}
    assert "team-a-secret" not in response.content.decode()
    assert "team-b-secret" not in response.content.decode()


def test_outsider_does_not_see_team_a(
    api_client_as: Callable[[User | None], APIClient], outsider: User, populated_teams: dict[str, Any]
) -> None:
    response = api_client_as(outsider).get("/api/latest/fleet/teams")
    assert [t["name"] for t in body_of(response)["teams"]] == ["Team B"]
    assert "team-a-secret" not in response.content.decode()


def test_anonymous_cannot_list_teams(db: None, api_client_as: Callable[[User | None], APIClient]) -> None:
    assert api_client_as(None).get("/api/latest/fleet/teams").status_code == 401


@pytest.mark.parametrize("version", ["latest", "v1"])
def test_admin_creates_a_team(api: APIClient, version: str) -> None:
    response = api.post(f"/api/{version}/fleet/teams", {"name": "  Servers ", "description": "prod"})
    assert response.status_code == 200
    created = body_of(response)["team"]
    assert (created["name"], created["description"]) == ("Servers", "prod")
    assert created["host_count"] == 0
    assert Team.objects.filter(pk=created["id"], name="Servers").exists()


def test_maintainer_cannot_create_a_team(api_client_as: Callable[[User | None], APIClient], maintainer: User) -> None:
    response = api_client_as(maintainer).post("/api/latest/fleet/teams", {"name": "Mine"})
    assert response.status_code == 403
    assert body_of(response)["message"] == "Permission Denied"
    assert not Team.objects.filter(name="Mine").exists()


def test_global_maintainer_cannot_create_a_team(api_client_as: Callable[[User | None], APIClient]) -> None:
    global_maintainer = User.objects.create_user("gm@example.com", "pw-123456789", global_role="maintainer")
    assert api_client_as(global_maintainer).post("/api/latest/fleet/teams", {"name": "Mine"}).status_code == 403
    assert not Team.objects.filter(name="Mine").exists()


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_team_name_is_a_validation_error(api: APIClient, name: str) -> None:
    response = api.post("/api/latest/fleet/teams", {"name": name})
    assert response.status_code == 422
    body = body_of(response)
    assert body["message"] == "Validation Failed"
    assert body["errors"][0]["name"] == "name"


def test_missing_team_name_is_a_validation_error(api: APIClient) -> None:
    response = api.post("/api/latest/fleet/teams", {"description": "x"})
    assert response.status_code == 422
    assert [e["name"] for e in body_of(response)["errors"]] == ["name"]


@pytest.mark.parametrize("name", ["Team A", "team a"])
def test_duplicate_team_name_is_a_conflict(api: APIClient, team: Team, name: str) -> None:
    response = api.post("/api/latest/fleet/teams", {"name": name})
    assert response.status_code == 409
    assert body_of(response)["errors"][0]["name"] == "base"
    assert Team.objects.count() == 1
