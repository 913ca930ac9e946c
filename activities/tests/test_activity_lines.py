"""Activity lines people read: the object's name linked to its page, a live query's SQL and target count."""

from __future__ import annotations

from django.test import Client

from accounts.models import Team, User
from activities.feed import describe, describe_html, existing_objects
from activities.models import Activity
from activities.record import record
from hosts.models import Label
from queries.models import Query


def browser_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_names_link_to_objects_that_still_exist(admin: User, team: Team) -> None:
    query = Query.objects.create(name="usb <devices>", query="SELECT 1;", team=team)
    record(admin, "created_saved_query", {"query_id": query.pk, "query_name": query.name, "team_id": team.pk})
    record(admin, "created_label", {"label_id": 999_999, "label_name": "gone"})
    record(admin, "deleted_saved_query", {"query_name": "old one"})
    page = browser_for(admin).get("/activity/").content.decode()
    assert f'created the query <a href="/queries/{query.pk}/">usb &lt;devices&gt;</a>' in page
    assert "created the label gone" in page and "/labels/999999/" not in page  # deleted since: no dead link
    assert "deleted the query old one" in page


def test_live_query_shows_its_sql_and_target_count(admin: User) -> None:
    sql = "SELECT * FROM processes WHERE name = 'osqueryd';"
    record(admin, "live_query", {"query_id": None, "query_name": None, "query_sql": sql, "targets_count": 12})
    html = browser_for(admin).get("/").content.decode()
    assert "ran a live query on 12 hosts" in html
    assert '<code class="sql"' in html and "SELECT * FROM processes WHERE name = &#x27;osqueryd&#x27;;" in html


def test_saved_live_query_names_and_links_the_query(admin: User) -> None:
    query = Query.objects.create(name="Uptime", query="SELECT * FROM uptime;", saved=True)
    details = {"query_id": query.pk, "query_name": "Uptime", "query_sql": query.query, "targets_count": 1}
    activity = Activity.objects.create(actor=admin, type="live_query", details=details)
    line = describe_html(activity, existing_objects([activity]))
    assert f'ran the query <a href="/queries/{query.pk}/">Uptime</a> live on 1 host' in line
    assert "SELECT * FROM uptime;" in line


def test_roles_are_shown_by_their_names(admin: User, team: Team) -> None:
    details = {"user_email": "o@example.com", "role": "observer_plus", "team_name": team.name, "team_id": team.pk}
    activity = Activity(type="changed_user_team_role", details=details)
    assert describe(activity) == f"made o@example.com Observer+ on {team.name}"
    assert "observer_plus" not in describe_html(activity)


def test_label_activity_links_the_label(admin: User) -> None:
    label = Label.objects.create(name="Pilot", label_membership_type="manual")
    record(admin, "edited_label", {"label_id": label.pk, "label_name": "Pilot"})
    page = browser_for(admin).get("/activity/").content.decode()
    assert f'edited the label <a href="/labels/{label.pk}/">Pilot</a>' in page
