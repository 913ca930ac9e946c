"""Team specs (`/spec/teams`, `/spec/fleets`) and user role specs, as `fleetctl apply` and `gitops` send them."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Team, TeamMembership, User
from activities.models import Activity
from conftest import APIClient
from enrollment.models import EnrollSecret

pytestmark = pytest.mark.django_db

BASE = "/api/latest/fleet"


def team_spec(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, **extra}


def test_a_team_spec_creates_missing_teams_and_answers_their_ids(api: APIClient, team: Team) -> None:
    body = {
        "specs": [
            team_spec("Team A", agent_options={"config": {"options": {"distributed_interval": 10}}}),
            team_spec("Workstations", features={"enable_host_users": False}, secrets=[{"secret": "ws-secret"}]),
        ]
    }
    response = api.post(f"{BASE}/spec/fleets", body)
    assert response.status_code == 200, response.content
    created = Team.objects.get(name="Workstations")
    assert response.json()["team_ids_by_name"] == {"Team A": team.pk, "Workstations": created.pk}
    assert response.json()["fleet_ids_by_name"] == {"Team A": team.pk, "Workstations": created.pk}
    team.refresh_from_db()
    assert team.agent_options["config"]["options"]["distributed_interval"] == 10
    assert list(created.secrets.values_list("secret", flat=True)) == ["ws-secret"]
    assert api.get(f"{BASE}/teams/{created.pk}").json()["team"]["features"]["enable_host_users"] is False
    assert Activity.objects.filter(type="created_team").count() == 1
    assert Activity.objects.filter(type="applied_spec_team").count() == 1


def test_a_new_team_without_secrets_gets_one(api: APIClient) -> None:
    api.post(f"{BASE}/spec/teams", {"specs": [team_spec("Servers")]})
    assert EnrollSecret.objects.filter(team__name="Servers").count() == 1


def test_dry_run_checks_and_writes_nothing(api: APIClient, team: Team) -> None:
    body = {"specs": [team_spec("Team A", agent_options={}), team_spec("New one", secrets=[{"secret": "s1"}])]}
    response = api.post(f"{BASE}/spec/teams?dry_run=true", body)
    assert response.status_code == 200
    assert response.json()["team_ids_by_name"] == {"Team A": team.pk, "New one": 0}
    assert not Team.objects.filter(name="New one").exists()
    assert not Activity.objects.exists()
    bad = api.post(f"{BASE}/spec/teams?dry_run=true", {"specs": [team_spec("x", agent_options={"nope": 1})]})
    assert bad.status_code == 400


def test_applying_the_same_team_specs_twice_records_nothing_new(api: APIClient) -> None:
    body = {"specs": [team_spec("Servers", secrets=[{"secret": "srv"}], scripts=["a.sh"], features={})]}
    api.post(f"{BASE}/spec/teams", body)
    activities, stamp = Activity.objects.count(), Team.objects.get(name="Servers").updated_at
    assert api.post(f"{BASE}/spec/teams", body).status_code == 200
    assert Activity.objects.count() == activities
    assert Team.objects.get(name="Servers").updated_at == stamp


def test_one_bad_team_spec_fails_the_whole_batch(api: APIClient, team: Team) -> None:
    api.post(f"{BASE}/spec/teams", {"specs": [team_spec("Servers", secrets=[{"secret": "taken"}])]})
    body = {"specs": [team_spec("Fresh"), team_spec("Team A", secrets=[{"secret": "taken"}])]}
    response = api.post(f"{BASE}/spec/teams", body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["name"] == "secrets"
    assert not Team.objects.filter(name="Fresh").exists()


@pytest.mark.parametrize(
    ("spec", "status", "field"),
    [
        ({"name": ""}, 422, "name"),
        ({"name": "No team"}, 422, "name"),
        ({"name": "x", "colour": "red"}, 400, "base"),
        ({"name": "x", "features": []}, 422, "features"),
    ],
)
def test_bad_team_specs_get_fleets_errors(api: APIClient, spec: dict, status: int, field: str) -> None:
    response = api.post(f"{BASE}/spec/teams", {"specs": [spec]})
    assert response.status_code == status
    assert response.json()["errors"][0]["name"] == field
    assert not Team.objects.exists()


def test_force_lets_unknown_keys_and_options_through(api: APIClient) -> None:
    body = {"specs": [team_spec("x", colour="red", agent_options={"future_key": 1})]}
    assert api.post(f"{BASE}/spec/teams?force=true", body).status_code == 200
    assert Team.objects.get(name="x").agent_options == {"future_key": 1}


def test_only_global_admins_apply_team_specs(api_client_as: Any, team_admin: User, global_maintainer: User) -> None:
    body = {"specs": [team_spec("Team A")]}
    assert api_client_as(team_admin).post(f"{BASE}/spec/teams", body).status_code == 403
    assert api_client_as(global_maintainer).post(f"{BASE}/spec/teams", body).status_code == 403
    assert api_client_as(None).post(f"{BASE}/spec/teams", body).status_code == 401


def test_user_role_specs_set_roles_by_email_and_team_name(
    api: APIClient, observer: User, global_observer: User, team: Team
) -> None:
    spec = {
        "roles": {
            observer.email: {"global_role": None, "teams": [{"team": "Team A", "role": "maintainer"}]},
            global_observer.email: {"global_role": "maintainer", "teams": None},
        }
    }
    assert api.post(f"{BASE}/users/roles/spec", {"spec": spec}).status_code == 200
    assert TeamMembership.objects.get(user=observer, team=team).role == "maintainer"
    global_observer.refresh_from_db()
    assert global_observer.global_role == "maintainer"
    activities = Activity.objects.count()
    assert api.post(f"{BASE}/users/roles/spec", {"spec": spec}).status_code == 200
    assert Activity.objects.count() == activities


def test_a_bad_user_role_spec_changes_nobody(api: APIClient, observer: User, global_observer: User) -> None:
    spec = {
        "roles": {
            global_observer.email: {"global_role": "admin"},
            observer.email: {"teams": [{"team": "Nope", "role": "observer"}]},
        }
    }
    assert api.post(f"{BASE}/users/roles/spec", {"spec": spec}).status_code == 404
    global_observer.refresh_from_db()
    assert global_observer.global_role == "observer"
    unknown = {"roles": {"nobody@example.com": {"global_role": "observer"}}}
    assert api.post(f"{BASE}/users/roles/spec", {"spec": unknown}).status_code == 404


def test_only_admins_apply_user_role_specs(api_client_as: Any, global_maintainer: User, observer: User) -> None:
    spec = {"spec": {"roles": {observer.email: {"global_role": "admin"}}}}
    assert api_client_as(global_maintainer).post(f"{BASE}/users/roles/spec", spec).status_code == 403


def test_a_new_team_cannot_take_the_global_enroll_secret(api: APIClient, enroll_secret: str) -> None:
    response = api.post(
        f"{BASE}/spec/teams?dry_run=true", {"specs": [team_spec("New", secrets=[{"secret": enroll_secret}])]}
    )
    assert response.status_code == 422
    assert (
        api.post(f"{BASE}/spec/teams", {"specs": [team_spec("New", secrets=[{"secret": enroll_secret}])]}).status_code
        == 422
    )
    assert not Team.objects.filter(name="New").exists()
