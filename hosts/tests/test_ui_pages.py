"""Admin UI pages through Django's test client: who sees what, forms with bad input, bulk actions."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from accounts.models import Invite, Team, User
from activities.models import Activity
from conftest import PASSWORD
from fleetsite.models import FleetConfig
from hosts.models import Host

pytestmark = pytest.mark.django_db


def logged_in(user: User) -> Client:
    client = Client()
    assert client.post("/login/", {"email": user.email, "password": PASSWORD}).status_code == 302
    return client


def test_anonymous_visitors_are_sent_to_login(client: Client) -> None:
    assert client.get("/").url == "/login/"
    assert client.get("/hosts/").url.startswith("/login/?next=/hosts/")


def test_wrong_password_shows_one_message_and_is_recorded(client: Client, admin: User) -> None:
    response = client.post("/login/", {"email": admin.email, "password": "nope"})
    assert b"Wrong email or password" in response.content
    assert Activity.objects.filter(type="user_failed_login").exists()


def test_login_redirects_only_to_this_site(client: Client, admin: User) -> None:
    response = client.post("/login/?next=https://evil.example/", {"email": admin.email, "password": PASSWORD})
    assert response.status_code == 200 and b"open redirect refused" in response.content
    assert "open redirect" in Activity.objects.filter(type="user_failed_login").latest("id").details["reason"]
    response = client.post("/login/?next=/hosts/", {"email": admin.email, "password": PASSWORD})
    assert response.url == "/hosts/"


@pytest.mark.parametrize(
    "path",
    ["/", "/hosts/", "/software/", "/activity/", "/settings/", "/settings/agent-options/", "/settings/secrets/",
     "/teams/", "/users/", "/users/invite/", "/account/", "/hosts/add/", "/api/reference/"],
)  # fmt: skip
def test_every_page_renders_for_an_admin(admin: User, team: Team, path: str) -> None:
    Host.objects.create(osquery_host_id="h", hostname="web-1", team=team)
    response = logged_in(admin).get(path)
    assert response.status_code == 200, response.content[:500]
    assert b'href="/queries/"' in response.content and b'href="/policies/"' in response.content


def test_team_observer_is_kept_to_their_team(observer: User, team: Team, other_team: Team) -> None:
    mine = Host.objects.create(osquery_host_id="a", hostname="mine", team=team)
    theirs = Host.objects.create(osquery_host_id="b", hostname="theirs", team=other_team)
    client = logged_in(observer)
    listing = client.get("/hosts/").content
    assert b"mine" in listing and b"theirs" not in listing
    assert client.get(f"/hosts/{mine.pk}/").status_code == 200
    assert client.get(f"/hosts/{theirs.pk}/").status_code == 404
    assert client.get(f"/teams/{other_team.pk}/").status_code == 404
    for path in ("/users/", "/settings/agent-options/", "/settings/secrets/"):
        assert client.get(path).status_code == 403, path
    assert client.post(f"/hosts/{mine.pk}/delete/", {"confirm": "1"}).status_code == 403
    assert Host.objects.filter(pk=mine.pk).exists()


def test_hosts_list_filters_sorts_and_answers_htmx_with_the_results_only(admin: User, team: Team) -> None:
    Host.objects.create(osquery_host_id="a", hostname="alpha", team=team, platform="darwin")
    Host.objects.create(osquery_host_id="b", hostname="bravo", platform="windows")
    client = logged_in(admin)
    page = client.get("/hosts/", {"platform": "darwin"}).content
    assert b"alpha" in page and b"bravo" not in page
    partial = client.get("/hosts/", {"query": "brav"}, headers={"HX-Request": "true", "HX-Target": "results"})
    assert b"<html" not in partial.content and b"bravo" in partial.content
    ordered = client.get("/hosts/", {"order_key": "hostname", "order_direction": "desc"}).content
    assert ordered.index(b"bravo") < ordered.index(b"alpha")
    assert b"status: Select a valid choice" in client.get("/hosts/", {"status": "sleepy"}).content


def test_hosts_page_costs_the_same_queries_for_10_or_200_hosts(
    admin: User, team: Team, django_assert_max_num_queries: Callable
) -> None:
    client = logged_in(admin)
    for count in (10, 200):
        Host.objects.bulk_create(
            [Host(osquery_host_id=f"{count}-{i}", hostname=f"h{count}-{i}", team=team) for i in range(count)]
        )
        with django_assert_max_num_queries(14):
            assert client.get("/hosts/", {"per_page": 100}).status_code == 200


def test_bulk_transfer_and_delete_with_confirmation(admin: User, team: Team) -> None:
    hosts = [Host.objects.create(osquery_host_id=f"h{i}", hostname=f"h{i}") for i in range(3)]
    client = logged_in(admin)
    ids = [hosts[0].pk, hosts[1].pk]
    step = client.post("/hosts/bulk/", {"action": "transfer", "team": team.pk, "ids": ids})
    # Nothing moves before the user confirms a page that names the team and the count.
    assert f"Move 2 hosts to {team.name}?" in step.content.decode() and not Host.objects.filter(team=team).exists()
    client.post("/hosts/bulk/", {"action": "transfer", "team": team.pk, "ids": ids, "confirm": "1"})
    assert Host.objects.filter(team=team).count() == 2
    confirm = client.post("/hosts/bulk/", {"action": "delete", "ids": [hosts[2].pk]})
    assert b"Delete 1 hosts" in confirm.content and Host.objects.count() == 3
    client.post("/hosts/bulk/", {"action": "delete", "ids": [hosts[2].pk], "confirm": "1"})
    assert Host.objects.count() == 2
    # "Every matching host" needs a filter, so a stray click cannot take the whole fleet.
    client.post("/hosts/bulk/", {"action": "delete", "all_matching": "on", "filters": "", "confirm": "1"})
    assert Host.objects.count() == 2
    everything = {"action": "transfer", "all_matching": "on", "filters": "query=h", "team": "none", "confirm": "1"}
    client.post("/hosts/bulk/", everything)
    assert Host.objects.filter(team__isnull=True).count() == 2


def test_bulk_actions_on_every_host_of_a_label(admin: User, team: Team) -> None:
    """The label filter is a join: bulk actions, the count and the export see each host once."""
    from hosts.models import Label, LabelMembership

    label, other = (Label.objects.create(name=name, query="SELECT 1;") for name in ("Lab", "Other"))
    hosts = [Host.objects.create(osquery_host_id=f"h{i}", hostname=f"h{i}") for i in range(3)]
    for host in hosts[:2]:
        LabelMembership.objects.create(label=label, host=host)
        LabelMembership.objects.create(label=other, host=host)
    client = logged_in(admin)
    assert "of 2," in client.get("/hosts/count/", {"label_id": label.pk}).content.decode()
    export = b"".join(client.get("/hosts/export.csv", {"label_id": label.pk}).streaming_content).decode()
    assert len(export.strip().splitlines()) == 3  # the header and two hosts
    filters = f"label_id={label.pk}"
    move = {"action": "transfer", "all_matching": "on", "filters": filters, "team": team.pk}
    step = client.post("/hosts/bulk/", move)
    assert b"Move 2 hosts" in step.content and not Host.objects.filter(team=team).exists()
    client.post("/hosts/bulk/", {**move, "confirm": "1"})
    assert set(Host.objects.filter(team=team).values_list("hostname", flat=True)) == {"h0", "h1"}
    client.post("/hosts/bulk/", {"action": "delete", "all_matching": "on", "filters": filters, "confirm": "1"})
    assert list(Host.objects.values_list("hostname", flat=True)) == ["h2"]


def test_csv_export_streams_the_filtered_list(admin: User) -> None:
    Host.objects.create(osquery_host_id="a", hostname="keep-me")
    Host.objects.create(osquery_host_id="b", hostname="skip")
    body = b"".join(logged_in(admin).get("/hosts/export.csv", {"query": "keep"}).streaming_content).decode()
    assert "keep-me" in body and "skip" not in body


def test_agent_options_editor_shows_the_error_and_keeps_the_text(admin: User) -> None:
    before = FleetConfig.load().agent_options
    response = logged_in(admin).post(
        "/settings/agent-options/", {"agent_options": "config:\n  options:\n    distributed_intervall: 5\n"}
    )
    assert response.status_code == 422
    assert b"did you mean &#x27;distributed_interval&#x27;" in response.content
    assert b"distributed_intervall: 5" in response.content
    assert FleetConfig.objects.get().agent_options == before


def test_invite_form_errors_and_success(admin: User, team: Team) -> None:
    client = logged_in(admin)
    bad = client.post("/users/invite/", {"email": "x@example.com"})
    assert b"give the user a global role" in bad.content and not Invite.objects.exists()
    ok = client.post("/users/invite/", {"email": "x@example.com", f"team_{team.pk}": "observer"})
    assert ok.status_code == 302 and Invite.objects.get().teams == [{"id": team.pk, "role": "observer"}]


def test_team_pages_create_add_member_and_rotate_secret(admin: User, observer: User, outsider: User) -> None:
    client = logged_in(admin)
    assert b"already exists" in client.post("/teams/new/", {"name": "team a"}).content
    response = client.post("/teams/new/", {"name": "Blue"})
    blue = Team.objects.get(name="Blue")
    assert response.url == f"/teams/{blue.pk}/"
    client.post(f"/teams/{blue.pk}/", {"action": "add_member", "member-user": outsider.pk, "member-role": "observer"})
    assert blue.memberships.filter(user=outsider, role="observer").exists()
    client.post(f"/teams/{blue.pk}/", {"secret_action": "add"})
    first = blue.secrets.get()
    step = client.post(f"/teams/{blue.pk}/", {"secret_action": "rotate", "secret_id": first.pk})
    assert b"Rotate 1 enroll secret of the team Blue?" in step.content and blue.secrets.get().secret == first.secret
    client.post(f"/teams/{blue.pk}/", {"secret_action": "rotate", "secret_id": first.pk, "confirm": "1"})
    assert blue.secrets.count() == 1 and blue.secrets.get().secret != first.secret


def test_api_only_users_cannot_log_in_to_the_ui(api_only_user: User) -> None:
    response = Client().post("/login/", {"email": api_only_user.email, "password": PASSWORD})
    assert response.status_code == 200 and b"cannot use the web UI" in response.content


def test_password_reset_flow(client: Client, observer: User, mailoutbox: list) -> None:
    client.post("/password/reset/", {"email": observer.email})
    path = mailoutbox[0].body.split("http://testserver")[1].split()[0]
    form = client.get(path, follow=True)
    new = "brand new passphrase 99"
    done = client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert done.status_code == 302
    observer.refresh_from_db()
    assert observer.check_password(new)


def test_hosts_page_loads_its_count_separately_and_reads_one_row_ahead(
    admin: User, observer: User, team: Team, other_team: Team
) -> None:
    Host.objects.bulk_create([Host(osquery_host_id=f"a{i}", hostname=f"a{i}", team=team) for i in range(5)])
    Host.objects.create(osquery_host_id="b", hostname="b", team=other_team)
    client = logged_in(admin)
    page = client.get("/hosts/", {"per_page": 1, "page": 1}).content.decode()
    assert 'hx-get="/hosts/count/?per_page=1&amp;page=1"' in page and "2–2, page 2" in page
    assert 'rel="next"' in page and 'rel="prev"' in page
    assert 'rel="next"' not in client.get("/hosts/", {"per_page": 1, "page": 5}).content.decode()
    assert "0–0, page 10" in client.get("/hosts/", {"per_page": 1, "page": 9}).content.decode()
    assert "2–2 of 6, page 2 of 6" in client.get("/hosts/count/", {"per_page": 1, "page": 1}).content.decode()
    assert "of 5," in client.get("/hosts/count/", {"per_page": 1, "team_id": team.pk}).content.decode()
    # The count keeps to the user's teams like the list does.
    assert "of 5," in logged_in(observer).get("/hosts/count/", {"per_page": 1}).content.decode()
    assert "0–0 of 0" in client.get("/hosts/count/", {"status": "sleepy"}).content.decode()


def test_hosts_page_escapes_what_agents_report(admin: User) -> None:
    Host.objects.create(osquery_host_id="x", hostname="<img src=x onerror=alert(1)>", os_version="<b>OS</b>")
    page = logged_in(admin).get("/hosts/").content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page
    assert "&lt;b&gt;OS&lt;/b&gt;" in page


def test_filter_bar_keeps_the_chosen_filters_and_flags_unknown_ones(admin: User, team: Team) -> None:
    params = {"query": 'a&<b>"', "status": "online", "team_id": team.pk, "label_id": "999", "per_page": 100}
    page = logged_in(admin).get("/hosts/", params).content.decode()
    assert '<input type="search" name="query" value="a&amp;&lt;b&gt;&quot;"' in page
    assert '<option value="online" selected>Online</option>' in page
    assert f'<option value="{team.pk}" selected>Team A</option>' in page
    assert '<option value="100" selected>100</option>' in page
    assert '<select name="label_id" aria-invalid="true" id="id_label_id">' in page  # no such label
    assert '<select name="status" id="id_status">' in page
    assert 'name="software_title_id" id="id_software_title_id">' in page
    # Bulk "Move to" offers the teams and "No team", never "Any".
    assert '<select name="team" id="id_team"><option value="" selected>Choose a team</option>' in page
    assert '<option value="none">No team</option>' in page


def test_filter_menus_show_labels_teams_and_policies_as_soon_as_they_change(admin: User, team: Team) -> None:
    from hosts.models import Label
    from queries.models import Policy

    client = logged_in(admin)
    assert b"Fresh label" not in client.get("/hosts/").content
    Label.objects.create(name="Fresh label", query="SELECT 1;")
    Policy.objects.create(name="Fresh policy", query="SELECT 1;")
    team.name = "Renamed team"
    team.save()
    page = client.get("/hosts/").content.decode()
    assert "Fresh label" in page and "Fresh policy" in page and "Renamed team" in page and "Team A" not in page


def test_sort_headers_reverse_the_sorted_column_and_start_again_at_page_zero(admin: User) -> None:
    Host.objects.create(osquery_host_id="a", hostname="a")
    params = {"order_key": "display_name", "order_direction": "asc", "page": 3, "status": "offline"}
    page = logged_in(admin).get("/hosts/", params).content.decode()
    assert (
        '<th aria-sort="ascending"><a href="?status=offline&amp;order_key=display_name&amp;order_direction=desc" '
        'hx-get="?status=offline&amp;order_key=display_name&amp;order_direction=desc" hx-target="#results" '
        'hx-push-url="true">Host ▲</a>'
    ) in page
    assert 'hx-get="?status=offline&amp;order_key=os_version&amp;order_direction=asc"' in page
    assert page.count("aria-sort") == 1 and 'hx-push-url="true">OS</a>' in page
    assert "<th>Issues</th>" not in page and '<th class="num">Issues</th>' in page


def test_top_bar_marks_the_current_section(admin: User) -> None:
    client = logged_in(admin)
    assert '<a href="/hosts/" aria-current="page">Hosts</a>' in client.get("/hosts/").content.decode()
    teams_page = client.get("/teams/").content.decode()
    assert '<a href="/settings/" aria-current="page">Settings</a>' in teams_page
    assert '<a href="/hosts/">Hosts</a>' in teams_page


def test_account_page_refuses_a_token_above_the_users_role(observer: User) -> None:
    client = logged_in(observer)
    form = {"action": "token", "token-name": "x", "token-role": "admin", "token-expires_in_days": "30"}
    response = client.post("/account/", form)
    assert response.status_code == 200
    assert "above your own" in response.content.decode()
    assert not observer.tokens.filter(name="x").exists()
