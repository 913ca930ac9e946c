"""Team CRUD, members and agent options over REST (fleet-protocol §4.3)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from accounts.models import Team, User
from activities.models import Activity
from conftest import PASSWORD, APIClient
from hosts.models import Host

pytestmark = pytest.mark.django_db
BASE = "/api/latest/fleet"


def test_rename_and_duplicate_name(api: APIClient, team: Team, other_team: Team) -> None:
    assert api.patch(f"{BASE}/teams/{team.pk}", {"name": "Team Alpha"}).json()["team"]["name"] == "Team Alpha"
    assert api.patch(f"{BASE}/teams/{team.pk}", {"name": "team b"}).status_code == 409
    assert Team.objects.get(pk=team.pk).name == "Team Alpha"


def test_deleting_a_team_moves_its_hosts_to_no_team(api: APIClient, team: Team) -> None:
    host = Host.objects.create(osquery_host_id="h", hostname="h", team=team)
    assert api.delete(f"{BASE}/teams/{team.pk}").status_code == 200
    host.refresh_from_db()
    assert host.team_id is None
    assert Activity.objects.get(type="deleted_team").details["hosts_moved"] == 1


def test_members_add_change_and_remove(api: APIClient, team: Team, observer: User, outsider: User) -> None:
    response = api.patch(f"{BASE}/teams/{team.pk}/users", {"users": [{"id": outsider.pk, "role": "maintainer"}]})
    assert response.status_code == 200 and response.json()["team"]["user_count"] == 2
    users = api.get(f"{BASE}/teams/{team.pk}/users").json()["users"]
    assert {u["email"]: u["role"] for u in users} == {
        "observer@example.com": "observer",
        "outsider@example.com": "maintainer",
    }
    assert api.delete(f"{BASE}/teams/{team.pk}/users", {"users": [{"id": outsider.pk}]}).status_code == 200
    # Removing the observer's only role would leave an account with no access at all.
    assert api.delete(f"{BASE}/teams/{team.pk}/users", {"users": [{"id": observer.pk}]}).status_code == 422


def test_team_agent_options_are_validated(api: APIClient, team: Team) -> None:
    bad = api.post(f"{BASE}/teams/{team.pk}/agent_options", {"config": {"options": {"distributed_intervall": 5}}})
    assert bad.status_code == 422
    assert "did you mean 'distributed_interval'" in bad.json()["errors"][0]["reason"]
    wrong_type = api.post(
        f"{BASE}/teams/{team.pk}/agent_options", {"config": {"options": {"distributed_interval": "x"}}}
    )
    assert "expected integer" in wrong_type.json()["errors"][0]["reason"]
    assert Team.objects.get(pk=team.pk).agent_options is None
    good = {"config": {"options": {"distributed_interval": 30}}}
    assert api.post(f"{BASE}/teams/{team.pk}/agent_options", good).json()["team"]["agent_options"] == good
    forced = api.post(f"{BASE}/teams/{team.pk}/agent_options?force=true", {"config": {"options": {"new_flag": 1}}})
    assert forced.status_code == 200


def test_team_admin_cannot_delete_their_team(api_client_as: Callable, team_admin: User, team: Team) -> None:
    assert api_client_as(team_admin).delete(f"{BASE}/teams/{team.pk}").status_code == 403


def test_team_admins_add_only_users_of_teams_they_administer(
    api_client_as: Callable, team_admin: User, team: Team, other_team: Team, outsider: User, admin: User
) -> None:
    from accounts.models import TeamMembership

    client = api_client_as(team_admin)
    for user in (outsider, admin):
        response = client.patch(f"{BASE}/teams/{team.pk}/users", {"users": [{"id": user.pk, "role": "observer"}]})
        assert response.status_code == 422, response.content
        reason = response.json()["errors"][0]["reason"]
        assert reason == f"user {user.pk} does not exist" and "@" not in reason
    assert not TeamMembership.objects.filter(team=team, user__in=[outsider, admin]).exists()
    page = logged_in_client(team_admin).get(f"/teams/{team.pk}/").content.decode()
    assert outsider.email not in page


def logged_in_client(user: User) -> object:
    from django.test import Client

    client = Client()
    assert client.post("/login/", {"email": user.email, "password": PASSWORD}).status_code == 302
    return client
