"""Policies (fleet-protocol §4.7): REST, delivery on check-in, pass/fail, counts and the failing webhook."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from hosts.models import Host
from queries import policies
from queries.models import Policy, PolicyMembership
from queries.tasks import failing_policies_webhook, refresh_policy_counts

READ = "/api/osquery/distributed/read"
WRITE = "/api/osquery/distributed/write"
POLICIES = "/api/latest/fleet/policies"


def create(api, path=POLICIES, **body):
    body = {"name": "Disk encrypted", "query": "SELECT 1 FROM disk_encryption WHERE encrypted = 1;", **body}
    response = api.post(path, body)
    assert response.status_code == 200, response.content
    return response.json()["policy"]


def answer(agent, enrolled, policy_id, passes=True, failed=False):
    name = f"fleet_policy_query_{policy_id}"
    rows = [{"1": "1"}] if passes else []
    return agent.json(WRITE, enrolled.body(queries={name: rows}, statuses={name: 1 if failed else 0}))


def test_create_list_get_patch_count_delete(api):
    policy = create(api, resolution="Turn on FileVault", platform="darwin", critical=True)
    assert policy["critical"] is True and policy["author_email"] == "admin@example.com"
    assert api.get(POLICIES).json()["policies"][0]["id"] == policy["id"]
    assert api.get("/api/v1/fleet/global/policies").json()["policies"][0]["id"] == policy["id"]
    patched = api.patch(f"{POLICIES}/{policy['id']}", {"name": "FileVault on"}).json()["policy"]
    assert patched["name"] == "FileVault on" and patched["query"] == policy["query"]
    assert api.get(f"{POLICIES}/count").json() == {"count": 1}
    assert api.post(f"{POLICIES}/delete", {"ids": [policy["id"]]}).json() == {"deleted": 1}
    assert not Policy.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": ""}, 422, "name"),
        ({"query": ""}, 422, "query"),
        ({"query": "DROP TABLE users;"}, 422, "query"),
        ({"query": "SELECT FROM WHERE ("}, 422, "query"),
        ({"platform": "beos"}, 422, "platform"),
        ({"critical": "very"}, 422, "critical"),
    ],
)
def test_bad_policies_are_refused(api, body, status, field):
    response = api.post(POLICIES, {"name": "p", "query": "SELECT 1;", **body})
    assert response.status_code == status, response.content
    assert response.json()["errors"][0]["name"] == field
    assert not Policy.objects.exists()


def test_duplicate_name_is_409(api):
    create(api)
    assert api.post(POLICIES, {"name": "Disk encrypted", "query": "SELECT 1;"}).status_code == 409


def test_team_policies_and_inheritance(api, team, api_client_as, maintainer, observer, outsider):
    create(api, name="global one")
    team_path = f"/api/latest/fleet/teams/{team.pk}/policies"
    created = create(api_client_as(maintainer), path=team_path, name="team one")
    assert created["team_id"] == team.pk
    listing = api_client_as(observer).get(team_path).json()
    assert [p["name"] for p in listing["policies"]] == ["team one"]
    assert [p["name"] for p in listing["inherited_policies"]] == ["global one"]
    assert api_client_as(observer).post(team_path, {"name": "x", "query": "SELECT 1;"}).status_code == 403
    assert api_client_as(maintainer).post(POLICIES, {"name": "x", "query": "SELECT 1;"}).status_code == 403
    assert api_client_as(outsider).get(team_path).status_code == 404


def test_policies_reach_their_hosts_and_answers_are_recorded(api, agent, ubuntu_host, enroll_host, team, team_secret):
    everyone = create(api, name="everyone")
    mac_only = create(api, name="mac only", platform="darwin")
    linux = create(api, name="linux", platform="linux")
    team_policy = create(api, path=f"/api/latest/fleet/teams/{team.pk}/policies", name="team")
    names = set(agent.json(READ, ubuntu_host.body())["queries"])
    assert f"fleet_policy_query_{everyone['id']}" in names
    assert f"fleet_policy_query_{linux['id']}" in names  # ubuntu counts as linux
    assert f"fleet_policy_query_{mac_only['id']}" not in names
    assert f"fleet_policy_query_{team_policy['id']}" not in names
    team_host = enroll_host("enroll_macos", secret=team_secret)
    team_names = set(agent.json(READ, team_host.body())["queries"])
    assert {f"fleet_policy_query_{p['id']}" for p in (everyone, mac_only, team_policy)} <= team_names

    answer(agent, ubuntu_host, everyone["id"], passes=True)
    answer(agent, ubuntu_host, linux["id"], passes=False)
    memberships = dict(PolicyMembership.objects.filter(host=ubuntu_host.host).values_list("policy_id", "passes"))
    assert memberships == {everyone["id"]: True, linux["id"]: False}
    answer(agent, ubuntu_host, everyone["id"], failed=True)
    assert PolicyMembership.objects.get(host=ubuntu_host.host, policy_id=everyone["id"]).passes is None
    assert ubuntu_host.refresh().policy_updated_at > timezone.now() - timezone.timedelta(minutes=1)
    assert not any(n.startswith("fleet_policy_query_") for n in agent.json(READ, ubuntu_host.body())["queries"])


def test_counts_are_refreshed_by_the_job(api, agent, ubuntu_host, enroll_host):
    policy = create(api)
    answer(agent, ubuntu_host, policy["id"], passes=False)
    answer(agent, enroll_host("enroll_macos"), policy["id"], passes=True)
    assert refresh_policy_counts.apply().get() == 1
    body = api.get(f"{POLICIES}/{policy['id']}").json()["policy"]
    assert (body["passing_host_count"], body["failing_host_count"]) == (1, 1)
    assert body["host_count_updated_at"] is not None


@pytest.mark.parametrize("policies_count", [1, 10])
def test_policy_answers_cost_constant_queries(api, agent, ubuntu_host, django_assert_max_num_queries, policies_count):
    created = [create(api, name=f"p{i}") for i in range(policies_count)]
    names = {f"fleet_policy_query_{p['id']}": [{"1": "1"}] for p in created}
    with django_assert_max_num_queries(9):
        agent.json(WRITE, ubuntu_host.body(queries=names, statuses=dict.fromkeys(names, 0)))
    assert PolicyMembership.objects.count() == policies_count


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook(settings):
    _Receiver.received, _Receiver.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.FLEETSITE_FAILING_POLICIES_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/hook"
    yield _Receiver
    server.shutdown()


def test_hosts_that_start_failing_reach_the_webhook_once(api, agent, ubuntu_host, webhook):
    policy = create(api, webhook_enabled=True)
    quiet = create(api, name="no automation")
    answer(agent, ubuntu_host, policy["id"], passes=True)
    answer(agent, ubuntu_host, policy["id"], passes=False)
    answer(agent, ubuntu_host, quiet["id"], passes=False)
    assert failing_policies_webhook.apply().get() == 1
    assert len(webhook.received) == 1
    sent = webhook.received[0]
    assert sent["policy"]["id"] == policy["id"]
    assert sent["hosts"] == [{"id": ubuntu_host.host.pk, "hostname": "web-01.example.com"}]
    assert failing_policies_webhook.apply().get() == 0  # not sent twice
    answer(agent, ubuntu_host, policy["id"], passes=False)  # still failing: no new flip
    assert failing_policies_webhook.apply().get() == 0


def test_a_refusing_webhook_keeps_the_hosts_for_the_next_run(api, agent, ubuntu_host, webhook):
    policy = create(api, webhook_enabled=True)
    answer(agent, ubuntu_host, policy["id"], passes=False)
    webhook.status = 500
    assert failing_policies_webhook.apply().get() == 0
    webhook.status = 200
    assert failing_policies_webhook.apply().get() == 1


def test_deleted_hosts_leave_no_memberships(api, agent, ubuntu_host):
    policy = create(api)
    answer(agent, ubuntu_host, policy["id"], passes=False)
    Host.objects.all().delete()
    assert not PolicyMembership.objects.exists()
    assert policies.refresh_counts() == 1


def test_policy_cannot_copy_another_teams_query(api_client_as, maintainer, team, other_team):
    from queries.models import Query

    theirs = Query.objects.create(name="secret sql", query="SELECT 'b';", team=other_team, saved=True)
    team_path = f"/api/latest/fleet/teams/{team.pk}/policies"
    response = api_client_as(maintainer).post(team_path, {"name": "copied", "query_id": theirs.pk})
    assert response.status_code == 404
    assert not Policy.objects.filter(name="copied").exists()
