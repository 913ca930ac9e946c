"""Issue 17 point 2: the live query page's target picker.

Search by display name, hostname, serial, UUID and IP, plus labels and teams, in the database with a
limit and a fixed number of queries; rows that tell same-named hosts apart; the live target count.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from hosts.models import Host, Label, LabelMembership
from queries.models import Query
from queries.views.live import HOST_SEARCH_LIMIT


def _host(name: str, **fields) -> Host:
    defaults = {"osquery_host_id": name + fields.get("hardware_serial", ""), "hostname": name, "platform": "ubuntu"}
    return Host.objects.create(**{**defaults, **fields})


@pytest.fixture
def client_as():
    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


def test_search_matches_every_identifier(client_as, admin, team):
    host = _host("web-01.example.com", computer_name="Reception iMac", hardware_serial="C02XYZ123",
                 uuid="5B1F7A3E-0000-4C4C-8000-000000000001", primary_ip="10.20.30.40", team=team)  # fmt: skip
    client = client_as(admin)
    for text in ("Reception", "web-01", "C02XYZ", "5b1f7a3e", "10.20.30"):
        html = client.get("/queries/live/hosts/", {"q": text}).content.decode()
        assert f'name="hosts" value="{host.pk}"' in html, text
    html = client.get("/queries/live/hosts/", {"q": "Reception"}).content.decode()
    assert "Reception iMac" in html and "web-01.example.com" in html  # display name first, hostname beside it


def test_same_named_hosts_are_told_apart(client_as, admin, team):
    _host("laptop", hardware_serial="SERIAL-AAA", team=team, platform="darwin")
    _host("laptop", hardware_serial="SERIAL-BBB", platform="windows", seen_time=timezone.now())
    html = client_as(admin).get("/queries/live/hosts/", {"q": "laptop"}).content.decode()
    assert "SERIAL-AAA" in html and "SERIAL-BBB" in html
    assert "Team A" in html and "No team" in html
    assert "darwin" in html and "windows" in html
    assert html.count("seen <time") == 2 or html.count("seen ") >= 2


def test_search_finds_labels_and_teams(client_as, admin, team):
    label = Label.objects.create(name="Laptops in Finance", query="SELECT 1;", label_type=1)
    host = _host("fin-01", team=team)
    LabelMembership.objects.create(label=label, host=host)
    client = client_as(admin)
    html = client.get("/queries/live/hosts/", {"q": "finance"}).content.decode()
    assert f'name="labels" value="{label.pk}"' in html and "1 host" in html
    html = client.get("/queries/live/hosts/", {"q": "team a"}).content.decode()
    assert f'name="teams" value="{team.pk}"' in html


def test_search_is_limited_and_costs_a_fixed_number_of_queries(client_as, admin, team, django_assert_max_num_queries):
    for i in range(HOST_SEARCH_LIMIT + 5):
        _host(f"node-{i:03}", team=team if i % 2 else None)
        Label.objects.create(name=f"node label {i}", query="SELECT 1;", label_type=1)
    client = client_as(admin)
    client.get("/queries/live/hosts/", {"q": "warm-up"})  # session and user rows
    with django_assert_max_num_queries(10):  # session, user, then hosts, labels, their counts, teams
        html = client.get("/queries/live/hosts/", {"q": "node"}).content.decode()
    assert html.count('name="hosts"') == HOST_SEARCH_LIMIT
    assert html.count('name="labels"') == HOST_SEARCH_LIMIT
    assert f"the first {HOST_SEARCH_LIMIT}: type more to narrow" in html


def test_search_stays_in_the_users_teams(client_as, observer, other_team):
    _host("hidden-01", team=other_team)
    html = client_as(observer).get("/queries/live/hosts/", {"q": "hidden"}).content.decode()
    assert "hidden-01" not in html and f'value="{other_team.pk}"' not in html


def test_live_count_of_targeted_hosts(client_as, admin, team):
    hosts = [_host(f"count-{i}", team=team if i < 3 else None) for i in range(5)]
    label = Label.objects.create(name="counted", query="SELECT 1;", label_type=1)
    LabelMembership.objects.create(label=label, host=hosts[4])
    client = client_as(admin)
    answer = client.get("/queries/live/count/", {"hosts": f"{hosts[3].pk},{hosts[0].pk}", "teams": str(team.pk),
                                                 "labels": str(label.pk)}).json()  # fmt: skip
    assert answer["targets_count"] == 5  # three on the team, one named (another on it), one in the label
    assert client.get("/queries/live/count/").json()["targets_count"] == 0


def test_live_count_follows_the_run_rules(client_as, observer, team, other_team):
    mine, theirs = _host("mine", team=team), _host("theirs", team=other_team)
    client = client_as(observer)
    ids = f"{mine.pk},{theirs.pk}"
    assert client.get("/queries/live/count/", {"hosts": ids}).json()["targets_count"] == 0  # no ad-hoc SQL
    query = Query.objects.create(name="ok", query="SELECT 1;", observer_can_run=True)
    assert client.get("/queries/live/count/", {"hosts": ids, "query_id": query.pk}).json()["targets_count"] == 1


def test_page_shows_the_picker_and_the_count(client_as, admin):
    html = client_as(admin).get("/queries/live/").content.decode()
    assert 'id="target-count"' in html and 'data-count-url="/queries/live/count/"' in html
    assert "serial, UUID, IP, label or team" in html
