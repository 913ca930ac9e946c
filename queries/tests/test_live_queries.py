"""Live-query campaigns: REST, delivery on check-in, answers, and the results websocket (fleet-protocol §4.5)."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from accounts.tokens import issue_session
from activities.models import Activity
from fleetsite.routing import websocket_urlpatterns
from hosts import seen
from hosts.models import Host
from queries import campaigns, live
from queries.choices import CampaignStatus, TargetStatus
from queries.models import Campaign, CampaignResult, CampaignTarget, Query

READ = "/api/osquery/distributed/read"
WRITE = "/api/osquery/distributed/write"
RUN = "/api/latest/fleet/queries/run"


def start(api, host_ids, sql="SELECT * FROM osquery_info;", **extra):
    response = api.post(RUN, {"query": sql, "selected": {"hosts": host_ids}, **extra})
    assert response.status_code == 200, response.content
    return response.json()["campaign"]


def answer(agent, enrolled, campaign_id, rows=None, status=0, message=None):
    name = f"fleet_distributed_query_{campaign_id}"
    body = enrolled.body(queries={name: rows if rows is not None else [{"version": "5.12.1"}]}, statuses={name: status})
    if message:
        body["messages"] = {name: message}
    return agent.json(WRITE, body)


# --- REST -----------------------------------------------------------------------------------


def test_run_returns_the_campaign_with_metrics(api, ubuntu_host):
    campaign = start(api, [ubuntu_host.host.pk])
    assert campaign["status"] == 0
    assert campaign["Metrics"]["TotalHosts"] == 1
    assert set(campaign["Metrics"]) == {"TotalHosts", "OnlineHosts", "OfflineHosts", "MissingInActionHosts", "NewHosts"}
    query = Query.objects.get(pk=campaign["query_id"])
    assert query.saved is False and query.name.startswith("distributed_admin@example.com_")
    assert Activity.objects.filter(type="live_query").count() == 1


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"selected": {"hosts": [1]}}, 422, "one of query or query_id must be specified"),
        ({"query": "SELECT 1;", "selected": {"hosts": [99999]}}, 400, "no hosts targeted"),
        ({"query": "SELECT 1;", "selected": {}}, 400, "no hosts targeted"),
        ({"query": "SELECT * FROM (", "selected": {"hosts": [1]}}, 422, "syntax error"),
        ({"query": "DELETE FROM users;", "selected": {"hosts": [1]}}, 422, "only read statements"),
        ({"query": "SELECT 1;", "selected": {"hosts": ["x"]}}, 422, "valid integer"),
        ({"query_id": 424242, "selected": {"hosts": [1]}}, 404, "was not found"),
    ],
)
def test_bad_runs_are_refused_and_start_nothing(api, ubuntu_host, body, status, reason):
    response = api.post(RUN, body)
    assert response.status_code == status, response.content
    assert reason in str(response.json()["errors"])
    assert not Campaign.objects.exists()


def test_observer_may_run_only_saved_queries_marked_for_observers(api_client_as, observer, ubuntu_host, team):
    from hosts.models import Host

    Host.objects.filter(pk=ubuntu_host.host.pk).update(team=team)
    client = api_client_as(observer)
    assert client.post(RUN, {"query": "SELECT 1;", "selected": {"hosts": [ubuntu_host.host.pk]}}).status_code == 403
    hidden = Query.objects.create(name="q1", query="SELECT 1;")
    allowed = Query.objects.create(name="q2", query="SELECT 2;", observer_can_run=True)
    assert client.post(RUN, {"query_id": hidden.pk, "selected": {"hosts": [ubuntu_host.host.pk]}}).status_code == 403
    assert client.post(RUN, {"query_id": allowed.pk, "selected": {"hosts": [ubuntu_host.host.pk]}}).status_code == 200


def test_outsiders_cannot_target_hosts_they_cannot_see(api_client_as, outsider, ubuntu_host):
    response = api_client_as(outsider).post(RUN, {"query": "SELECT 1;", "selected": {"hosts": [ubuntu_host.host.pk]}})
    assert response.status_code == 400
    assert "no hosts targeted" in str(response.json())


def test_labels_and_teams_select_their_hosts(api, enroll_host, team, team_secret):
    mac = enroll_host("enroll_macos")
    win = enroll_host("enroll_windows", secret=team_secret)
    from hosts.models import Label, LabelMembership

    macos = Label.objects.get(name="macOS")
    LabelMembership.objects.create(label=macos, host=mac.host)
    campaign = api.post(RUN, {"query": "SELECT 1;", "selected": {"labels": [macos.pk], "teams": [team.pk]}}).json()
    targets = set(
        CampaignTarget.objects.filter(campaign_id=campaign["campaign"]["id"]).values_list("host_id", flat=True)
    )
    assert targets == {mac.host.pk, win.host.pk}


def test_run_by_identifiers_and_unknown_labels(api, ubuntu_host):
    body = {"query": "SELECT 1;", "selected": {"hosts": ["web-01.example.com"], "labels": []}}
    response = api.post("/api/latest/fleet/queries/run_by_identifiers", body)
    assert response.status_code == 200
    assert response.json()["campaign"]["Metrics"]["TotalHosts"] == 1
    body["selected"]["labels"] = ["No Such Label"]
    response = api.post("/api/latest/fleet/queries/run_by_identifiers", body)
    assert response.status_code == 400
    assert "No Such Label" in str(response.json())


def test_run_by_identifiers_ignores_the_blank_names_fleetctl_sends(api, ubuntu_host):
    # `fleetctl query --hosts X` splits its empty --labels flag on commas: labels is [""].
    body = {"query": "SELECT 1;", "query_id": None, "selected": {"hosts": ["web-01.example.com"], "labels": [""]}}
    response = api.post("/api/latest/fleet/reports/run_by_identifiers", body)
    assert response.status_code == 200, response.content
    assert response.json()["campaign"]["Metrics"]["TotalHosts"] == 1
    body["selected"] = {"hosts": [""], "labels": ["", "No Such Label"]}
    response = api.post("/api/latest/fleet/reports/run_by_identifiers", body)
    assert response.status_code == 400
    # fleetctl finds Fleet's own wording in the error and prints just that part.
    assert "Invalid label name(s) specified: No Such Label." in response.json()["errors"][0]["reason"]


# --- delivery and answers -------------------------------------------------------------------


def test_campaign_reaches_targets_until_they_answer(api, agent, ubuntu_host, enroll_host):
    other = enroll_host("enroll_macos")
    campaign = start(api, [ubuntu_host.host.pk])
    name = f"fleet_distributed_query_{campaign['id']}"
    assert agent.json(READ, ubuntu_host.body())["queries"][name] == "SELECT * FROM osquery_info;"
    assert name not in agent.json(READ, other.body())["queries"]
    answer(agent, ubuntu_host, campaign["id"])
    assert name not in agent.json(READ, ubuntu_host.body())["queries"]
    result = CampaignResult.objects.get()
    assert result.rows == [{"version": "5.12.1"}] and result.error is None
    assert CampaignTarget.objects.get().status == TargetStatus.ANSWERED
    assert Campaign.objects.get().status == CampaignStatus.WAITING  # answers never touch the campaign row


def test_failed_answer_is_kept_with_its_error(api, agent, ubuntu_host):
    campaign = start(api, [ubuntu_host.host.pk])
    answer(agent, ubuntu_host, campaign["id"], rows=[], status=1, message="no such table: foo")
    result = CampaignResult.objects.get()
    assert result.error == "no such table: foo"
    assert CampaignTarget.objects.get().status == TargetStatus.FAILED


def test_answers_to_stopped_or_foreign_campaigns_are_dropped(api, agent, ubuntu_host, enroll_host):
    other = enroll_host("enroll_macos")
    campaign = start(api, [ubuntu_host.host.pk])
    answer(agent, other, campaign["id"])  # not a target
    assert not CampaignResult.objects.exists()
    assert api.post(f"/api/latest/fleet/campaigns/{campaign['id']}/stop").status_code == 200
    assert f"fleet_distributed_query_{campaign['id']}" not in agent.json(READ, ubuntu_host.body())["queries"]


def test_expired_campaigns_stop_reaching_hosts(api, agent, ubuntu_host):
    from django.utils import timezone

    campaign = start(api, [ubuntu_host.host.pk])
    Campaign.objects.update(expires_at=timezone.now())
    assert campaigns.cleanup_expired() == 1
    assert f"fleet_distributed_query_{campaign['id']}" not in agent.json(READ, ubuntu_host.body())["queries"]


def test_stored_results_are_readable_after_the_socket(api, agent, ubuntu_host):
    campaign = start(api, [ubuntu_host.host.pk])
    answer(agent, ubuntu_host, campaign["id"])
    body = api.get(f"/api/latest/fleet/campaigns/{campaign['id']}/results").json()
    assert body["answered_host_count"] == 1
    assert body["results"][0]["rows"][0]["host_hostname"] == "web-01.example.com"


@pytest.mark.parametrize("campaign_count", [1, 5])
def test_read_with_open_campaigns_costs_constant_queries(
    api, agent, ubuntu_host, django_assert_max_num_queries, campaign_count
):
    for _ in range(campaign_count):
        start(api, [ubuntu_host.host.pk])
    agent.json(READ, ubuntu_host.body())
    with django_assert_max_num_queries(2):
        body = agent.json(READ, ubuntu_host.body())
    assert sum(name.startswith("fleet_distributed_query_") for name in body["queries"]) == campaign_count
    seen.buffer.discard()


# --- synchronous run ------------------------------------------------------------------------


def test_run_saved_query_waits_for_answers(api, agent, ubuntu_host, settings, monkeypatch):
    settings.FLEETSITE_LIVE_QUERY_REST_PERIOD = 1
    query = Query.objects.create(name="osquery version", query="SELECT version FROM osquery_info;")
    from queries.api import live as live_api

    original = live_api._wait_for_answers

    def answer_then_wait(campaign, period):
        answer(agent, ubuntu_host, campaign.pk, rows=[{"version": "5.12.1"}])
        original(campaign, period)

    monkeypatch.setattr(live_api, "_wait_for_answers", answer_then_wait)
    body = api.post(f"/api/latest/fleet/queries/{query.pk}/run", {"host_ids": [ubuntu_host.host.pk]}).json()
    assert body == {
        "query_id": query.pk,
        "report_id": query.pk,
        "targeted_host_count": 1,
        "responded_host_count": 1,
        "results": [{"host_id": ubuntu_host.host.pk, "rows": [{"version": "5.12.1"}], "error": None}],
    }
    assert Campaign.objects.get().status == CampaignStatus.COMPLETE


def test_run_saved_query_gives_up_after_the_period(api, ubuntu_host, settings):
    settings.FLEETSITE_LIVE_QUERY_REST_PERIOD = 1
    query = Query.objects.create(name="q", query="SELECT 1;")
    body = api.post(f"/api/latest/fleet/queries/{query.pk}/run", {"host_ids": [ubuntu_host.host.pk]}).json()
    assert body["targeted_host_count"] == 1 and body["responded_host_count"] == 0


# --- websocket ------------------------------------------------------------------------------

application = URLRouter(websocket_urlpatterns)
SOCKET = "/api/latest/fleet/results/websocket"


async def watching_a_campaign(admin, enroll_host, names=("",)):
    """Hosts (one per name; "" is the fixture's default), a campaign targeting them and a socket that
    has joined it (its first status frame read)."""
    enrolled = [
        await database_sync_to_async(enroll_host)(**({"host_identifier": name} if name else {})) for name in names
    ]
    token = await database_sync_to_async(issue_session)(admin)
    query = await database_sync_to_async(Query.objects.create)(name="q", query="SELECT 1;", saved=False)
    targets = {"hosts": [each.host.pk for each in enrolled]}
    campaign = await database_sync_to_async(campaigns.start)(admin, query, targets)
    communicator = WebsocketCommunicator(application, SOCKET)
    await communicator.connect()
    await communicator.send_json_to({"type": "auth", "data": {"token": token}})
    await communicator.send_json_to({"type": "select_campaign", "data": {"campaign_id": campaign.pk}})
    await frames_until(communicator, "status")
    return enrolled, campaign, communicator


async def frames_until(communicator, wanted_type, limit=20):
    seen_frames = []
    for _ in range(limit):
        frame = await communicator.receive_json_from(timeout=5)
        seen_frames.append(frame)
        if frame["type"] == wanted_type:
            return frame, seen_frames
    raise AssertionError(f"no {wanted_type} frame in {seen_frames}")


@pytest.mark.django_db(transaction=True)
async def test_websocket_streams_totals_results_and_finished(admin, agent, enroll_host, settings):
    enrolled = await database_sync_to_async(enroll_host)()
    token = await database_sync_to_async(issue_session)(admin)
    query = await database_sync_to_async(Query.objects.create)(name="q", query="SELECT 1;", saved=False)
    campaign = await database_sync_to_async(campaigns.start)(admin, query, {"hosts": [enrolled.host.pk]})
    communicator = WebsocketCommunicator(application, SOCKET)
    assert (await communicator.connect())[0]
    await communicator.send_json_to({"type": "auth", "data": {"token": token}})
    await communicator.send_json_to({"type": "select_campaign", "data": {"campaign_id": campaign.pk}})
    totals, _ = await frames_until(communicator, "totals")
    assert totals["data"] == {"count": 1, "online": 1, "offline": 0, "missing_in_action": 0}
    status, _ = await frames_until(communicator, "status")
    assert status["data"] == {"expected_results": 1, "actual_results": 0, "status": "pending"}
    live.register_loop(asyncio.get_running_loop())
    await database_sync_to_async(answer)(agent, enrolled, campaign.pk, rows=[{"a": "1"}])
    result, _ = await frames_until(communicator, "result")
    assert result["data"]["distributed_query_execution_id"] == campaign.pk
    assert result["data"]["host"]["hostname"] == "web-01.example.com"
    assert result["data"]["rows"] == [{"a": "1", "host_hostname": "web-01.example.com", "host_display_name": "web-01"}]
    finished, _ = await frames_until(communicator, "status")
    assert finished["data"]["status"] == "finished"
    await communicator.disconnect()
    refreshed = await database_sync_to_async(Campaign.objects.get)(pk=campaign.pk)
    assert refreshed.status == CampaignStatus.COMPLETE  # closing the socket completes it
    live.register_loop(None)


@pytest.mark.django_db(transaction=True)
async def test_websocket_replays_results_received_before_it_joined(admin, agent, enroll_host):
    enrolled = await database_sync_to_async(enroll_host)()
    token = await database_sync_to_async(issue_session)(admin)
    query = await database_sync_to_async(Query.objects.create)(name="q", query="SELECT 1;", saved=False)
    campaign = await database_sync_to_async(campaigns.start)(admin, query, {"hosts": [enrolled.host.pk]})
    await database_sync_to_async(answer)(agent, enrolled, campaign.pk)
    communicator = WebsocketCommunicator(application, SOCKET)
    await communicator.connect()
    await communicator.send_json_to({"type": "auth", "data": {"token": token}})
    await communicator.send_json_to({"type": "select_campaign", "data": {"campaign_id": campaign.pk}})
    result, _ = await frames_until(communicator, "result")
    assert result["data"]["rows"][0]["version"] == "5.12.1"
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_result_in_the_shape_older_processes_publish_reaches_the_socket(admin, enroll_host):
    """A rolling deploy: a process from before the frame-as-text change publishes the payload itself."""
    from channels.layers import get_channel_layer

    (enrolled,), campaign, communicator = await watching_a_campaign(admin, enroll_host)
    payload = {"distributed_query_execution_id": campaign.pk, "host": {"id": enrolled.host.pk}, "rows": [{"a": "1"}]}
    old_shape = {"type": "campaign.result", "data": payload}
    await get_channel_layer().group_send(live.group_name(campaign.pk), old_shape)
    result, _ = await frames_until(communicator, "result")
    assert result["data"] == payload
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_kept_open_campaign_survives_the_socket(admin, enroll_host):
    from datetime import timedelta

    enrolled = await database_sync_to_async(enroll_host)()
    token = await database_sync_to_async(issue_session)(admin)
    query = await database_sync_to_async(Query.objects.create)(name="q", query="SELECT 1;", saved=False)
    campaign = await database_sync_to_async(campaigns.start)(
        admin, query, {"hosts": [enrolled.host.pk]}, timedelta(hours=2)
    )
    communicator = WebsocketCommunicator(application, SOCKET)
    await communicator.connect()
    await communicator.send_json_to({"type": "auth", "data": {"token": token}})
    await communicator.send_json_to({"type": "select_campaign", "data": {"campaign_id": campaign.pk}})
    await frames_until(communicator, "status")
    await communicator.disconnect()
    refreshed = await database_sync_to_async(Campaign.objects.get)(pk=campaign.pk)
    assert refreshed.status != CampaignStatus.COMPLETE


@pytest.mark.parametrize(
    ("messages", "error", "code"),
    [
        ([{"type": "select_campaign", "data": {"campaign_id": 1}}], "expected auth", 4401),
        ([{"type": "auth", "data": {"token": "wrong"}}], "unauthorized", 4401),
        ([{"type": "auth", "data": {}}], "unauthorized", 4401),
        (["{not json"], "not valid JSON", 4400),
        (["[1, 2]"], "must be a JSON object", 4400),
        (["x" * 9000], "larger than 8096", 4400),
        ([{"type": "auth", "data": {"token": "TOKEN"}}, {"type": "nope"}], "expected select_campaign", 4400),
        ([{"type": "auth", "data": {"token": "TOKEN"}}, {"type": "select_campaign", "data": {"campaign_id": 0}}],
         "0 is not a valid campaign ID", 4400),
        ([{"type": "auth", "data": {"token": "TOKEN"}}, {"type": "select_campaign", "data": {"campaign_id": 99999}}],
         "cannot find campaign for ID 99999", 4400),
        ([{"type": "auth", "data": {"token": "OTHER"}},
          {"type": "select_campaign", "data": {"campaign_id": "CAMPAIGN"}}], "cannot find campaign for ID", 4400),
    ],
)  # fmt: skip
@pytest.mark.django_db(transaction=True)
async def test_websocket_refuses_bad_frames(admin, outsider, enroll_host, messages, error, code):
    enrolled = await database_sync_to_async(enroll_host)()
    token = await database_sync_to_async(issue_session)(admin)
    other_token = await database_sync_to_async(issue_session)(outsider)
    query = await database_sync_to_async(Query.objects.create)(name="q", query="SELECT 1;", saved=False)
    campaign = await database_sync_to_async(campaigns.start)(admin, query, {"hosts": [enrolled.host.pk]})
    communicator = WebsocketCommunicator(application, SOCKET)
    await communicator.connect()
    for message in messages:
        if isinstance(message, str):
            await communicator.send_to(text_data=message)
            continue
        data = dict(message.get("data", {}))
        if data.get("token") == "TOKEN":
            data["token"] = token
        if data.get("token") == "OTHER":
            data["token"] = other_token
        if data.get("campaign_id") == "CAMPAIGN":
            data["campaign_id"] = campaign.pk
        await communicator.send_json_to({**message, "data": data})
    frame, _ = await frames_until(communicator, "error")
    assert error in frame["data"]
    closed = await communicator.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": code}
    refreshed = await database_sync_to_async(Campaign.objects.get)(pk=campaign.pk)
    assert refreshed.status == CampaignStatus.WAITING  # a refused socket changes nothing


@pytest.mark.django_db(transaction=True)
async def test_results_reach_the_socket_even_when_the_channel_layer_drops_them(admin, agent, enroll_host, monkeypatch):
    (enrolled,), campaign, communicator = await watching_a_campaign(admin, enroll_host)
    monkeypatch.setattr(live, "emit", lambda campaign_id, payload: None)  # a full layer drops the message
    await database_sync_to_async(answer)(agent, enrolled, campaign.pk, rows=[{"a": "1"}])
    result, _ = await frames_until(communicator, "result")  # found by the socket's own catch-up poll
    assert result["data"]["rows"][0]["a"] == "1"
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_result_committed_below_ids_the_poll_read_past_still_reaches_the_socket(
    admin, agent, enroll_host, monkeypatch
):
    """Ids are handed out at INSERT: a check-in that commits late stores its result below the poll's position."""
    from queries import consumers

    monkeypatch.setattr(consumers, "CATCH_UP_INTERVAL", 0.05)
    monkeypatch.setattr(consumers, "STATUS_INTERVAL", 0.1)
    monkeypatch.setattr(consumers, "SETTLE_SECONDS", 0)
    monkeypatch.setattr(live, "emit", lambda campaign_id, payload: None)  # a full layer drops every message
    (early, late), campaign, communicator = await watching_a_campaign(admin, enroll_host, ("early", "late"))
    # The late host's result will take this id, below the early host's.
    other = await database_sync_to_async(Campaign.objects.create)(
        query_id=campaign.query_id, user=admin, selected={}, expires_at=campaign.expires_at
    )
    placeholder = await database_sync_to_async(CampaignResult.objects.create)(campaign=other, host_display_name="x")
    await database_sync_to_async(answer)(agent, early, campaign.pk, rows=[{"a": "early"}])
    first, _ = await frames_until(communicator, "result")
    assert first["data"]["host"]["id"] == early.host.pk

    def commit_late() -> None:
        CampaignResult.objects.filter(pk=placeholder.pk).delete()
        answer(agent, late, campaign.pk, rows=[{"a": "late"}])
        CampaignResult.objects.filter(campaign=campaign, host=late.host).update(id=placeholder.pk)

    await database_sync_to_async(commit_late)()
    second, _ = await frames_until(communicator, "result")
    assert second["data"]["host"]["id"] == late.host.pk and second["data"]["rows"][0]["a"] == "late"
    await communicator.disconnect()


@pytest.mark.django_db
def test_the_look_back_for_late_results_reads_only_its_window_and_hosts_not_shown(admin, enroll_host):
    from django.utils import timezone

    hosts = [enroll_host(host_identifier=name).host for name in ("a", "b", "c", "d")]
    query = Query.objects.create(name="q", query="SELECT 1;", saved=False)
    campaign = Campaign.objects.create(query=query, user=admin, selected={}, expires_at=timezone.now())
    ids = [
        CampaignResult.objects.create(campaign=campaign, host=host, host_display_name=host.hostname, rows=[]).pk
        for host in hosts
    ]
    frames = campaigns.late_frames(campaign, ids[0], ids[2], skip_hosts={hosts[1].pk})
    assert [frame["host"]["id"] for frame in frames] == [hosts[2].pk]


def test_run_by_identifiers_does_not_know_another_teams_labels(api_client_as, maintainer, other_team):
    from hosts.models import Label

    Label.objects.create(name="Team B label", query="SELECT 1;", team=other_team)
    body = {"query": "SELECT 1;", "selected": {"hosts": [], "labels": ["Team B label"]}}
    response = api_client_as(maintainer).post("/api/latest/fleet/queries/run_by_identifiers", body)
    assert response.status_code == 400 and "Team B label" in str(response.json())


@pytest.mark.django_db
def test_the_catch_up_poll_stops_at_a_result_the_layer_may_still_bring_and_skips_none(admin):
    from datetime import timedelta

    from django.utils import timezone

    query = Query.objects.create(name="q", query="SELECT 1;", saved=False)
    campaign = Campaign.objects.create(query=query, user=admin, selected={}, expires_at=timezone.now())
    now = timezone.now()
    old, young, old_after_young = (
        CampaignResult.objects.create(campaign=campaign, host_display_name=name, rows=[{"n": name}], created_at=at)
        for name, at in (("a", now - timedelta(seconds=5)), ("b", now), ("c", now - timedelta(seconds=5)))
    )
    frames, last = campaigns.stored_frames(campaign, settled_before=now - timedelta(seconds=1))
    assert [frame["rows"][0]["n"] for frame in frames] == ["a"] and last == old.pk
    frames, last = campaigns.stored_frames(campaign, after_id=last, settled_before=now + timedelta(seconds=1))
    assert [frame["rows"][0]["n"] for frame in frames] == ["b", "c"] and last == old_after_young.pk


@pytest.mark.django_db
def test_stored_results_replay_their_rows_error_and_stats_under_the_hosts_name_or_the_stored_one(admin, enroll_host):
    from django.utils import timezone

    kept, gone = (enroll_host(host_identifier=name).host for name in ("kept", "gone"))
    Host.objects.filter(pk=kept.pk).update(hostname="kept.example")
    query = Query.objects.create(name="q", query="SELECT 1;", saved=False)
    campaign = Campaign.objects.create(query=query, user=admin, selected={}, expires_at=timezone.now())
    rows = [{"name": 'naïve "quoted" \\ 🙂', "n": "1"}, {"name": "", "n": "2"}]
    CampaignResult.objects.create(
        campaign=campaign, host=kept, host_display_name="Kept's Mac", rows=rows, stats={"wall_time_ms": 3}
    )
    CampaignResult.objects.create(campaign=campaign, host=gone, host_display_name="Gone PC", rows=[], error="no table")
    Host.objects.filter(pk=gone.pk).delete()

    frames, _ = campaigns.stored_frames(campaign)

    assert [frame["host"] for frame in frames] == [
        {"id": kept.pk, "hostname": "kept.example", "display_name": "Kept's Mac"},
        {"id": None, "hostname": "Gone PC", "display_name": "Gone PC"},
    ]
    names = {"host_hostname": "kept.example", "host_display_name": "Kept's Mac"}
    assert frames[0]["rows"] == [{**row, **names} for row in rows] and frames[0]["stats"] == {"wall_time_ms": 3}
    assert frames[1]["rows"] == [] and frames[1]["error"] == "no table"
