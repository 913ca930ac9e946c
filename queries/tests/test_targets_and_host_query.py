"""Target picker counts, one host's live query over REST, and the live-query status checks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Team, User
from conftest import AgentClient, APIClient
from enrollment.tests.fixtures import EnrolledHost
from fleetsite.models import FleetConfig
from hosts.models import Host, Label, LabelMembership
from queries import live
from queries.api import live as live_api
from queries.choices import CampaignStatus
from queries.models import Campaign, Query

pytestmark = pytest.mark.django_db

BASE = "/api/latest/fleet"
WRITE = "/api/osquery/distributed/write"


def make_host(name: str, team: Team | None = None, online: bool = True, **fields: Any) -> Host:
    now = timezone.now()
    until = now + timedelta(hours=1) if online else now - timedelta(minutes=5)
    return Host.objects.create(osquery_host_id=name, hostname=name, team=team, online_until=until, **fields)


def _disable_live_queries() -> None:
    config = FleetConfig.load()
    config.live_query_disabled = True
    config.save()  # through save(), which forgets the cached settings


# --- POST /targets, /targets/count --------------------------------------------------------------


def test_count_targets_by_hosts_labels_and_teams(api: APIClient, team: Team) -> None:
    now = timezone.now()
    a = make_host("a")
    make_host("b", online=False)
    make_host("c", team=team)
    make_host("gone", seen_time=now - timedelta(days=40), online=False)
    label = Label.objects.create(name="Pilot", label_membership_type="manual")
    LabelMembership.objects.create(label=label, host=Host.objects.get(hostname="b"))
    selected = {"hosts": [a.pk], "labels": [label.pk], "teams": [team.pk]}
    response = api.post(f"{BASE}/targets/count", {"selected": selected})
    assert response.status_code == 200, response.content
    assert response.json() == {"targets_count": 3, "targets_online": 2, "targets_offline": 1}
    everything = {"hosts": list(Host.objects.values_list("id", flat=True))}
    body = api.post(f"{BASE}/targets", {"query": "", "selected": everything}).json()
    assert (body["targets_count"], body["targets_online"], body["targets_offline"]) == (4, 2, 1)
    assert body["targets_missing_in_action"] == 1


def test_fleets_is_read_as_teams(api: APIClient, team: Team) -> None:
    make_host("c", team=team)
    body = api.post(f"{BASE}/targets/count", {"selected": {"fleets": [team.pk]}}).json()
    assert body["targets_count"] == 1


def test_targets_search_hosts_labels_and_teams_by_text(api: APIClient, team: Team) -> None:
    web = make_host("web-1", team=team)
    make_host("web-2")
    Label.objects.create(name="Web servers", label_membership_type="manual")
    Team.objects.create(name="Web team")
    body = api.post(f"{BASE}/targets", {"query": "web", "selected": {"hosts": [web.pk]}}).json()
    targets = body["targets"]
    assert [h["hostname"] for h in targets["hosts"]] == ["web-2"]
    assert [label["name"] for label in targets["labels"]] == ["Web servers"]
    assert targets["labels"][0]["display_text"] == "Web servers" and targets["labels"][0]["count"] == 0
    assert [t["name"] for t in targets["teams"]] == ["Web team"]
    assert "secrets" not in targets["teams"][0] and "agent_options" not in targets["teams"][0]
    assert targets["teams"][0]["display_text"] == "Web team"
    assert body["targets_count"] == 1  # the selection: web-1


def test_observers_reach_no_targets_unless_the_query_lets_them(
    api_client_as: Callable[[User | None], APIClient], observer: User, team: Team, other_team: Team
) -> None:
    make_host("mine", team=team)
    make_host("theirs", team=other_team)
    selected = {"teams": [team.pk, other_team.pk]}
    client = api_client_as(observer)
    assert client.post(f"{BASE}/targets/count", {"selected": selected}).json()["targets_count"] == 0
    allowed = Query.objects.create(name="ok for observers", query="SELECT 1", observer_can_run=True)
    body = client.post(f"{BASE}/targets/count", {"selected": selected, "query_id": allowed.pk}).json()
    assert body["targets_count"] == 1
    assert client.post(f"{BASE}/targets/count", {"selected": selected, "query_id": 99999}).status_code == 404
    assert api_client_as(None).post(f"{BASE}/targets/count", {"selected": selected}).status_code == 401


# --- POST /hosts/{id}/query, /hosts/identifier/{identifier}/query -------------------------------


def _online(enrolled: EnrolledHost) -> Host:
    Host.objects.filter(pk=enrolled.host.pk).update(online_until=timezone.now() + timedelta(hours=1))
    return enrolled.refresh()


def _answer_during_wait(monkeypatch: pytest.MonkeyPatch, agent: AgentClient, enrolled: EnrolledHost, **kw: Any) -> None:
    original = live_api._wait_for_answers

    def answer_then_wait(campaign: Campaign, period: float) -> None:
        name = f"fleet_distributed_query_{campaign.pk}"
        body = enrolled.body(queries={name: kw.get("rows", [])}, statuses={name: kw.get("status", 0)})
        if "message" in kw:
            body["messages"] = {name: kw["message"]}
        agent.json(WRITE, body)
        original(campaign, period)

    monkeypatch.setattr(live_api, "_wait_for_answers", answer_then_wait)


def test_host_query_waits_for_the_hosts_rows(
    api: APIClient, agent: AgentClient, ubuntu_host: EnrolledHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = _online(ubuntu_host)
    _answer_during_wait(monkeypatch, agent, ubuntu_host, rows=[{"version": "5.12.1"}])
    response = api.post(f"{BASE}/hosts/{host.pk}/query", {"query": "  SELECT version FROM osquery_info; "})
    assert response.status_code == 200, response.content
    assert response.json() == {
        "host_id": host.pk,
        "rows": [{"version": "5.12.1"}],
        "query": "SELECT version FROM osquery_info;",
        "status": "online",
    }
    assert Campaign.objects.get().status == CampaignStatus.COMPLETE


def test_host_query_by_identifier_reports_the_hosts_error(
    api: APIClient, agent: AgentClient, ubuntu_host: EnrolledHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = _online(ubuntu_host)
    _answer_during_wait(monkeypatch, agent, ubuntu_host, status=1, message="no such table: nope")
    response = api.post(f"{BASE}/hosts/identifier/{host.hostname}/query", {"query": "SELECT * FROM nope;"})
    assert response.status_code == 200, response.content
    assert response.json()["error"] == "no such table: nope"
    assert response.json()["host_id"] == host.pk


def test_host_query_times_out_with_fleets_error(api: APIClient, ubuntu_host: EnrolledHost, settings: Any) -> None:
    settings.FLEETSITE_LIVE_QUERY_REST_PERIOD = 1
    host = _online(ubuntu_host)
    body = api.post(f"{BASE}/hosts/{host.pk}/query", {"query": "SELECT 1;"}).json()
    assert body == {"host_id": host.pk, "rows": None, "query": "SELECT 1;", "status": "online",
                    "error": "timeout waiting for results"}  # fmt: skip
    assert Campaign.objects.get().status == CampaignStatus.COMPLETE


def test_an_offline_host_is_not_queried(api: APIClient) -> None:
    host = make_host("asleep", online=False)
    body = api.post(f"{BASE}/hosts/{host.pk}/query", {"query": "SELECT 1;"}).json()
    assert body == {"host_id": host.pk, "rows": None, "query": "SELECT 1;", "status": "offline"}
    assert not Campaign.objects.exists()


def test_host_query_errors(
    api: APIClient,
    api_client_as: Callable[[User | None], APIClient],
    observer: User,
    outsider: User,
    team: Team,
    settings: Any,
) -> None:
    settings.FLEETSITE_LIVE_QUERY_REST_PERIOD = 1  # a mistake here must not cost the default 90 s
    host = make_host("h", team=team)
    empty = api.post(f"{BASE}/hosts/{host.pk}/query", {"query": "   "})
    assert empty.status_code == 400 and empty.json()["errors"][0]["reason"] == "query is required"
    missing = api.post(f"{BASE}/hosts/99999/query", {"query": "SELECT 1;"})
    assert missing.status_code == 400 and missing.json()["errors"][0]["reason"].startswith("host not found: 99999")
    assert api.post(f"{BASE}/hosts/identifier/nobody/query", {"query": "SELECT 1;"}).status_code == 400
    assert api.post(f"{BASE}/hosts/{host.pk}/query", {"query": "DELETE FROM users;"}).status_code == 422
    # Another team's host does not exist for this user; a plain observer may not run ad-hoc SQL.
    assert api_client_as(outsider).post(f"{BASE}/hosts/{host.pk}/query", {"query": "SELECT 1;"}).status_code == 400
    assert api_client_as(observer).post(f"{BASE}/hosts/{host.pk}/query", {"query": "SELECT 1;"}).status_code == 403
    _disable_live_queries()
    assert api.post(f"{BASE}/hosts/{host.pk}/query", {"query": "SELECT 1;"}).status_code == 403
    assert not Campaign.objects.exists()


# --- GET /status/result_store, /status/live_query -----------------------------------------------


def test_status_checks_answer_empty_when_healthy(api: APIClient) -> None:
    for path in ("status/result_store", "status/live_query"):
        response = api.get(f"{BASE}/{path}")
        assert response.status_code == 200, path
        assert response.json() == {}


def test_status_checks_fail_when_the_result_store_is_down(api: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "available", lambda: False)
    for path in ("status/result_store", "status/live_query"):
        response = api.get(f"{BASE}/{path}")
        assert response.status_code == 503, path
        assert response.json()["message"] == "Live queries are unavailable"


def test_live_query_status_says_disabled_by_administrator(
    api: APIClient, api_client_as: Callable[[User | None], APIClient]
) -> None:
    _disable_live_queries()
    response = api.get(f"{BASE}/status/live_query")
    assert response.status_code == 403
    assert response.json()["errors"][0]["reason"] == "disabled by administrator"
    assert api.get(f"{BASE}/status/result_store").status_code == 200
    assert api_client_as(None).get(f"{BASE}/status/result_store").status_code == 401
