"""`POST /automations/reset`: failing hosts are reported again by the next automation run."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from accounts.models import Team, User
from conftest import APIClient
from hosts.models import Host
from queries.models import Policy, PolicyMembership

pytestmark = pytest.mark.django_db

URL = "/api/latest/fleet/automations/reset"


def _failing(policy: Policy, name: str, passes: bool = False) -> PolicyMembership:
    host = Host.objects.create(osquery_host_id=f"{policy.pk}-{name}", hostname=name)
    return PolicyMembership.objects.create(policy=policy, host=host, passes=passes, webhook_pending=False)


def _pending() -> set[str]:
    return set(PolicyMembership.objects.filter(webhook_pending=True).values_list("host__hostname", flat=True))


def test_reset_by_policy_and_by_team_rearms_only_failing_hosts(api: APIClient, team: Team) -> None:
    global_policy = Policy.objects.create(name="Firewall", query="SELECT 1", webhook_enabled=True)
    team_policy = Policy.objects.create(name="Disk", query="SELECT 1", team=team, webhook_enabled=True)
    other = Policy.objects.create(name="Other", query="SELECT 1", webhook_enabled=True)
    _failing(global_policy, "g-fail")
    _failing(global_policy, "g-pass", passes=True)
    _failing(team_policy, "t-fail")
    _failing(other, "o-fail")
    response = api.post(URL, {"policy_ids": [global_policy.pk]})
    assert response.status_code == 200, response.content
    assert response.json() == {}
    assert _pending() == {"g-fail"}
    assert api.post(URL, {"fleet_ids": [team.pk]}).status_code == 200  # Fleet 4.8's name for team_ids
    assert _pending() == {"g-fail", "t-fail"}


def test_reset_checks_the_callers_rights(
    api_client_as: Callable[[User | None], APIClient], observer: User, maintainer: User, outsider: User, team: Team
) -> None:
    team_policy = Policy.objects.create(name="Disk", query="SELECT 1", team=team)
    global_policy = Policy.objects.create(name="Firewall", query="SELECT 1")
    assert api_client_as(observer).post(URL, {"team_ids": [team.pk]}).status_code == 403
    assert api_client_as(outsider).post(URL, {"team_ids": [team.pk]}).status_code == 404
    assert api_client_as(outsider).post(URL, {"policy_ids": [team_policy.pk]}).status_code == 404
    assert api_client_as(maintainer).post(URL, {"policy_ids": [team_policy.pk]}).status_code == 200
    assert api_client_as(maintainer).post(URL, {"policy_ids": [global_policy.pk]}).status_code == 403
    assert api_client_as(maintainer).post(URL, {"policy_ids": [999999]}).status_code == 404
    assert api_client_as(None).post(URL, {"policy_ids": [team_policy.pk]}).status_code == 401
