"""Query, report and label pages: list filters, the editor with inline SQL errors, reports, labels, permissions."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Team, User
from activities.models import Activity
from hosts.choices import LabelMembershipType, LabelType
from hosts.models import Host, Label
from queries.models import Query, QueryReportRow

pytestmark = pytest.mark.django_db


def browser_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def browser(admin: User) -> Client:
    return browser_for(admin)


def query_form(**changes: object) -> dict:
    data = {
        "name": "users",
        "description": "",
        "query": "SELECT * FROM users",
        "team_id": "",
        "interval": "3600",
        "min_osquery_version": "",
        "logging": "snapshot",
        "report_max_rows": "1000",
        "report_max_age_days": "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


# --- queries list ------------------------------------------------------------------------------


def test_list_search_team_filter_and_run_button(browser: Client, team: Team) -> None:
    first = Query.objects.create(name="osquery versions", query="SELECT 1")
    Query.objects.create(name="team users", query="SELECT 1", team=team)
    Query.objects.create(name="adhoc", query="SELECT 1", saved=False)
    html = browser.get("/queries/").content.decode()
    assert "osquery versions" in html and "team users" in html and "adhoc" not in html
    assert f'href="/queries/live/?query_id={first.pk}"' in html
    html = browser.get("/queries/", {"query": "versions"}).content.decode()
    assert "osquery versions" in html and "team users" not in html
    html = browser.get("/queries/", {"team_id": team.pk}).content.decode()
    assert "team users" in html and "osquery versions" not in html
    html = browser.get("/queries/", {"team_id": "0"}).content.decode()
    assert "osquery versions" in html and "team users" not in html


def test_list_pages_and_htmx_returns_only_results(browser: Client) -> None:
    for n in range(60):
        Query.objects.create(name=f"q{n:02}", query="SELECT 1")
    html = browser.get("/queries/").content.decode()
    assert "q49" in html and "q50" not in html and "1–50 of 60" in html
    partial = browser.get("/queries/", {"page": 1}, headers={"HX-Request": "true", "HX-Target": "results"})
    body = partial.content.decode()
    assert "q50" in body and "<html" not in body


def test_list_bad_filters_show_an_error_not_a_crash(browser: Client) -> None:
    response = browser.get("/queries/", {"order_key": "nope", "team_id": "x"})
    assert response.status_code == 200


def test_observer_sees_run_only_when_allowed_and_no_new_button(observer: User, team: Team) -> None:
    allowed = Query.objects.create(name="allowed", query="SELECT 1", team=team, observer_can_run=True)
    denied = Query.objects.create(name="denied", query="SELECT 1", team=team)
    html = browser_for(observer).get("/queries/").content.decode()
    assert f"/queries/live/?query_id={allowed.pk}" in html
    assert f"/queries/live/?query_id={denied.pk}" not in html
    assert "/queries/new/" not in html
    assert browser_for(observer).get("/queries/new/").status_code == 403


def test_outsider_does_not_see_other_teams_queries(outsider: User, team: Team) -> None:
    hidden = Query.objects.create(name="secret team query", query="SELECT 1", team=team)
    client = browser_for(outsider)
    assert "secret team query" not in client.get("/queries/").content.decode()
    for path in (f"/queries/{hidden.pk}/", f"/queries/{hidden.pk}/report/", f"/queries/{hidden.pk}/delete/"):
        assert client.get(path).status_code == 404


def test_anonymous_is_sent_to_login(db: None) -> None:
    for path in ("/queries/", "/queries/new/", "/labels/", "/labels/new/"):
        response = Client().get(path)
        assert response.status_code == 302 and "/login/" in response["Location"]


# --- editor ------------------------------------------------------------------------------------


def test_create_with_schedule_settings(browser: Client, team: Team) -> None:
    data = query_form(team_id=str(team.pk), platform=["darwin", "linux"], automations_enabled="on")
    data.update(logging="differential", report_max_rows="25", report_max_age_days="3")
    response = browser.post("/queries/new/", data)
    query = Query.objects.get(name="users")
    assert response.status_code == 302 and response["Location"] == f"/queries/{query.pk}/"
    assert (query.team_id, query.interval, query.platform, query.logging) == (team.pk, 3600, "darwin,linux",
                                                                              "differential")  # fmt: skip
    assert query.automations_enabled and query.report_max_rows == 25 and query.report_max_age_days == 3
    assert Activity.objects.filter(type="created_saved_query").exists()


def test_sql_errors_are_shown_on_the_field_with_their_position(browser: Client) -> None:
    response = browser.post("/queries/new/", query_form(query="SELECT * FROM users WHERE"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "syntax error: incomplete input (line 1, column 26)" in html
    response = browser.post("/queries/new/", query_form(query="DELETE FROM users"))
    assert "only read statements (SELECT) are allowed, not DELETE" in response.content.decode()
    assert not Query.objects.exists()


def test_duplicate_name_is_shown_on_the_name_field(browser: Client) -> None:
    Query.objects.create(name="users", query="SELECT 1")
    html = browser.post("/queries/new/", query_form()).content.decode()
    assert "already exists" in html and Query.objects.count() == 1


def test_edit_keeps_the_team_and_updates(browser: Client, team: Team) -> None:
    query = Query.objects.create(name="users", query="SELECT 1", team=team)
    page = browser.get(f"/queries/{query.pk}/").content.decode()
    assert "SELECT 1" in page and 'name="team_id"' not in page
    response = browser.post(f"/queries/{query.pk}/", query_form(name="renamed", interval="0"))
    assert response.status_code == 302
    query.refresh_from_db()
    assert query.name == "renamed" and query.team_id == team.pk and query.interval == 0


def test_observer_sees_the_query_read_only(observer: User, team: Team) -> None:
    query = Query.objects.create(name="users", query="SELECT 1", team=team)
    client = browser_for(observer)
    html = client.get(f"/queries/{query.pk}/").content.decode()
    assert "disabled" in html and 'type="submit"' not in html.split("</header>")[1]
    assert client.post(f"/queries/{query.pk}/", query_form(name="changed")).status_code == 200
    query.refresh_from_db()
    assert query.name == "users"
    assert client.get(f"/queries/{query.pk}/delete/").status_code == 403


def test_team_maintainer_can_only_pick_their_team(maintainer: User, team: Team, other_team: Team) -> None:
    client = browser_for(maintainer)
    html = client.get("/queries/new/").content.decode()
    assert "Team A" in html and "Team B" not in html and "All teams (global)" not in html
    client.post("/queries/new/", query_form(team_id=str(other_team.pk)))
    client.post("/queries/new/", query_form(team_id=""))
    assert not Query.objects.exists()
    client.post("/queries/new/", query_form(team_id=str(team.pk)))
    assert Query.objects.get().team_id == team.pk


def test_delete_asks_first(browser: Client) -> None:
    query = Query.objects.create(name="users", query="SELECT 1")
    assert "Delete query users?" in browser.get(f"/queries/{query.pk}/delete/").content.decode()
    assert browser.post(f"/queries/{query.pk}/delete/", {"confirm": "1"}).status_code == 302
    assert not Query.objects.exists()


def test_check_sql_fragment(browser: Client) -> None:
    ok = browser.post("/queries/check-sql/", {"query": "SELECT 1"}).content.decode()
    assert "valid read-only SQL" in ok
    bad = browser.post("/queries/check-sql/", {"query": "SELECT 1;\nSELECT * users"}).content.decode()
    assert "syntax error near &quot;users&quot; at line 2, column 10" in bad
    assert "SELECT * users\n         ^" in bad
    assert browser.post("/queries/check-sql/", {"query": ""}).content == b""
    assert browser.get("/queries/check-sql/").status_code == 405


# --- report ------------------------------------------------------------------------------------


def test_report_page_filter_and_csv(browser: Client) -> None:
    query = Query.objects.create(name="users", query="SELECT 1", report_max_rows=1)
    first = Host.objects.create(osquery_host_id="a", hostname="alpha")
    second = Host.objects.create(osquery_host_id="b", hostname="beta")
    QueryReportRow.objects.create(query=query, host=first, data={"uid": "100", "shell": "/bin/zsh"})
    QueryReportRow.objects.create(query=query, host=second, data={"uid": "200"})
    html = browser.get(f"/queries/{query.pk}/report/").content.decode()
    assert "alpha" in html and "beta" in html and "/bin/zsh" in html and "clipped" in html
    html = browser.get(f"/queries/{query.pk}/report/", {"host_id": second.pk}).content.decode()
    assert "200" in html and "/bin/zsh" not in html
    response = browser.get(f"/queries/{query.pk}/report.csv", {"host_id": first.pk})
    text = b"".join(response.streaming_content).decode()
    assert text.splitlines()[0] == "host_name,last_fetched,uid,shell" and "alpha" in text and "beta" not in text


def test_report_rows_of_other_teams_hosts_are_hidden(observer: User, team: Team, other_team: Team) -> None:
    query = Query.objects.create(name="users", query="SELECT 1")
    mine = Host.objects.create(osquery_host_id="a", hostname="mine-host", team=team)
    theirs = Host.objects.create(osquery_host_id="b", hostname="their-host", team=other_team)
    QueryReportRow.objects.create(query=query, host=mine, data={"uid": "1"})
    QueryReportRow.objects.create(query=query, host=theirs, data={"uid": "2"})
    html = browser_for(observer).get(f"/queries/{query.pk}/report/").content.decode()
    assert "mine-host" in html and "their-host" not in html


# --- labels ------------------------------------------------------------------------------------


def test_label_list_counts_and_filters(browser: Client) -> None:
    label = Label.objects.create(name="Servers", query="SELECT 1")
    label.hosts.set([Host.objects.create(osquery_host_id="a", hostname="a")])
    html = browser.get("/labels/").content.decode()
    assert "Servers" in html and f'href="/hosts/?label_id={label.pk}">1<' in html
    html = browser.get("/labels/", {"label_membership_type": "manual"}).content.decode()
    assert "Servers" not in html


def test_create_dynamic_and_manual_labels(browser: Client) -> None:
    Host.objects.create(osquery_host_id="id-1", hostname="web-1")
    response = browser.post(
        "/labels/new/", {"name": "Macs", "label_membership_type": "dynamic", "query": "SELECT 1", "platform": "darwin"}
    )
    assert response.status_code == 302
    assert Label.objects.get(name="Macs").platform == "darwin"
    browser.post("/labels/new/", {"name": "Web", "label_membership_type": "manual", "hosts": "web-1\n"})
    web = Label.objects.get(name="Web")
    assert web.label_membership_type == LabelMembershipType.MANUAL and web.hosts.count() == 1
    assert Activity.objects.filter(type="created_label").count() == 2


def test_label_form_errors(browser: Client) -> None:
    html = browser.post("/labels/new/", {"name": "Bad", "label_membership_type": "dynamic", "query": "SELECT * FROM"})
    assert "incomplete input (line 1, column 14)" in html.content.decode()
    html = browser.post("/labels/new/", {"name": "Bad", "label_membership_type": "manual", "hosts": "nobody"})
    assert "unknown hosts: nobody" in html.content.decode()
    assert not Label.objects.filter(name="Bad").exists()


def test_edit_manual_label_hosts_and_rename(browser: Client) -> None:
    a = Host.objects.create(osquery_host_id="a", hostname="a-host")
    b = Host.objects.create(osquery_host_id="b", hostname="b-host")
    label = Label.objects.create(name="Man", label_membership_type=LabelMembershipType.MANUAL)
    label.hosts.set([a])
    assert "a-host" in browser.get(f"/labels/{label.pk}/").content.decode()
    browser.post(f"/labels/{label.pk}/", {"name": "Renamed", "description": "", "hosts": "b-host"})
    label.refresh_from_db()
    assert label.name == "Renamed" and list(label.hosts.all()) == [b]


def test_builtin_labels_are_read_only(browser: Client) -> None:
    label = Label.objects.filter(label_type=LabelType.BUILTIN).first() or Label.objects.create(
        name="All Hosts", query="SELECT 1;", label_type=LabelType.BUILTIN
    )
    html = browser.get(f"/labels/{label.pk}/").content.decode()
    assert "cannot be changed" in html
    browser.post(f"/labels/{label.pk}/", {"name": "Hacked"})
    label.refresh_from_db()
    assert label.name != "Hacked"
    assert browser.get(f"/labels/{label.pk}/delete/").status_code == 403


def test_label_delete_and_team_user_cannot_write(browser: Client, maintainer: User) -> None:
    label = Label.objects.create(name="Gone", query="SELECT 1")
    client = browser_for(maintainer)
    assert client.get("/labels/new/").status_code == 403
    assert client.get(f"/labels/{label.pk}/delete/").status_code == 403
    assert browser.post(f"/labels/{label.pk}/delete/", {"confirm": "1"}).status_code == 302
    assert not Label.objects.filter(pk=label.pk).exists()
