"""The live-query and policy pages, and the websocket's session auth for them."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import Client

from activities.models import Activity
from fleetsite.routing import websocket_application, websocket_urlpatterns
from queries.models import Campaign, Policy, Query


@pytest.fixture
def browser(admin):
    client = Client()
    client.force_login(admin)
    return client


def post_json(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


def test_live_page_offers_labels_teams_and_a_saved_query(browser, team, ubuntu_host):
    query = Query.objects.create(name="versions", query="SELECT version FROM osquery_info;")
    page = browser.get(f"/queries/live/?query_id={query.pk}&host_ids={ubuntu_host.host.pk}")
    assert page.status_code == 200
    html = page.content.decode()
    assert "All Hosts" in html and "Team A" in html
    assert "SELECT version FROM osquery_info;" in html
    assert f'value="{ubuntu_host.host.pk}" checked' in html


def test_host_search_finds_visible_hosts(browser, ubuntu_host):
    html = browser.get("/queries/live/hosts/", {"q": "web-01"}).content.decode()
    assert "web-01.example.com" in html
    assert "No matching hosts" in browser.get("/queries/live/hosts/", {"q": "nothing-like-this"}).content.decode()


def test_start_and_stop_from_the_page(browser, ubuntu_host):
    response = post_json(browser, "/queries/live/start/", {"query": "SELECT 1;", "hosts": [ubuntu_host.host.pk]})
    assert response.status_code == 200, response.content
    campaign_id = response.json()["campaign"]["id"]
    assert response.json()["campaign"]["totals"]["count"] == 1
    assert Activity.objects.filter(type="live_query").exists()
    assert browser.get(f"/queries/live/{campaign_id}/").status_code == 200
    assert browser.post(f"/queries/live/{campaign_id}/stop/").status_code == 200
    assert Campaign.objects.get().status == 2


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"query": "SELECT 1;", "hosts": []}, 400, "no hosts targeted"),
        ({"query": "", "hosts": [1]}, 422, "one of query or query_id"),
        ({"query": "UPDATE x SET y = 1;", "hosts": [1]}, 422, "only read"),
        ({"query": "SELECT 1;", "hosts": ["1"]}, 422, "lists of ids"),
        ({"query": "SELECT 1;", "hosts": [1], "keep_open_seconds": 10**9}, 422, "keep_open_seconds"),
    ],
)
def test_page_start_refuses_bad_input(browser, ubuntu_host, body, status, reason):
    response = post_json(browser, "/queries/live/start/", body)
    assert response.status_code == status
    assert reason in response.json()["errors"][0]["reason"]
    assert not Campaign.objects.exists()


def test_page_start_needs_login_and_csrf(ubuntu_host, admin):
    anonymous = Client()
    response = post_json(anonymous, "/queries/live/start/", {"query": "SELECT 1;", "hosts": [1]})
    assert response.status_code == 302
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin)
    assert post_json(strict, "/queries/live/start/", {"query": "SELECT 1;", "hosts": [1]}).status_code == 403


def test_policy_pages_create_list_edit_delete(browser, team):
    form = {"name": "Firewall on", "query": "SELECT 1 FROM alf WHERE global_state >= 1;", "platform": "darwin",
            "description": "", "resolution": "Turn it on", "team": ""}  # fmt: skip
    assert browser.post("/policies/new/", form).status_code == 302
    policy = Policy.objects.get()
    assert policy.author is not None and policy.team is None
    listing = browser.get("/policies/").content.decode()
    assert "Firewall on" in listing and f"policy_id={policy.pk}&amp;policy_response=failing" in listing
    assert browser.post(f"/policies/{policy.pk}/", {**form, "name": "Firewall enabled"}).status_code == 302
    assert Policy.objects.get().name == "Firewall enabled"
    assert browser.post(f"/policies/{policy.pk}/delete/", {"confirm": "1"}).status_code == 302
    assert not Policy.objects.exists()
    assert {"created_policy", "edited_policy", "deleted_policy"} <= set(Activity.objects.values_list("type", flat=True))


def test_policy_form_shows_sql_errors_and_saves_nothing(browser):
    response = browser.post("/policies/new/", {"name": "bad", "query": "DROP TABLE users;", "platform": ""})
    assert response.status_code == 200
    assert "only read statements" in response.content.decode()
    assert not Policy.objects.exists()


def test_observer_cannot_open_another_teams_policy(api_client_as, observer, outsider, other_team):
    policy = Policy.objects.create(name="theirs", query="SELECT 1;", team=other_team)
    client = Client()
    client.force_login(observer)
    assert client.get(f"/policies/{policy.pk}/").status_code == 404
    assert "theirs" not in client.get("/policies/").content.decode()


# --- websocket session auth -----------------------------------------------------------------

SESSION_APP = websocket_application(URLRouter(websocket_urlpatterns))


async def _session_socket(client: Client, origin: str) -> WebsocketCommunicator:
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    headers = [(b"cookie", cookie.encode()), (b"host", b"testserver"), (b"origin", origin.encode())]
    communicator = WebsocketCommunicator(SESSION_APP, "/api/latest/fleet/results/websocket", headers=headers)
    await communicator.connect()
    return communicator


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("origin", "allowed"), [("http://testserver", True), ("https://evil.example", False)])
async def test_ui_socket_uses_the_session_only_from_our_own_origin(admin, enroll_host, origin, allowed):
    from queries import campaigns

    enrolled = await database_sync_to_async(enroll_host)()
    client = Client()
    await database_sync_to_async(client.force_login)(admin)
    query = await database_sync_to_async(Query.objects.create)(name="q", query="SELECT 1;", saved=False)
    campaign = await database_sync_to_async(campaigns.start)(admin, query, {"hosts": [enrolled.host.pk]})
    communicator = await _session_socket(client, origin)
    await communicator.send_json_to({"type": "auth", "data": {}})
    await communicator.send_json_to({"type": "select_campaign", "data": {"campaign_id": campaign.pk}})
    frame = await communicator.receive_json_from(timeout=5)
    if allowed:
        assert frame["type"] == "totals"
    else:
        assert frame == {"type": "error", "data": "unauthorized"}
    await communicator.disconnect()


def test_live_page_offers_only_the_users_teams_labels_with_their_host_counts(maintainer, team, other_team):
    from conftest import PASSWORD
    from hosts.models import Host, Label

    Label.objects.create(name="Team B label", query="SELECT 1;", team=other_team)
    mine = Label.objects.create(name="Team A label", query="SELECT 1;", team=team)
    mine.hosts.set([Host.objects.create(osquery_host_id=f"h{i}", team=team) for i in range(2)])
    mine.hosts.add(Host.objects.create(osquery_host_id="b", team=other_team))
    client = Client()
    client.post("/login/", {"email": maintainer.email, "password": PASSWORD})
    page = client.get("/queries/live/").content.decode()
    assert "Team B label" not in page
    assert 'Team A label <span class="muted">2 hosts</span>' in page
