"""Issue 17 points 4 and 5 through the test client: every destructive or bulk action names what will
happen and to how many before it happens; an observer's pages carry no write controls or dead links.
"""

from __future__ import annotations

import re

from django.test import Client

from accounts.models import User
from accounts.tokens import issue_api_token, issue_session
from conftest import PASSWORD
from enrollment.models import EnrollSecret
from hosts.models import Host, Label
from queries.models import Policy, Query


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_ending_other_sessions_names_how_many(observer: User) -> None:
    first, second = Client(), Client()
    for client in (first, second):
        client.post("/login/", {"email": observer.email, "password": PASSWORD})
    issue_session(observer)
    html = first.get("/account/sessions/").content.decode()
    assert 'data-confirm="End 2 other sessions?' in html
    assert 'data-confirm="End this web login from' in html and 'data-confirm="End REST login' in html


def test_admin_session_and_second_factor_actions_ask_first(admin: User, observer: User) -> None:
    html = as_user(admin).get(f"/users/{observer.pk}/").content.decode()
    assert f'data-confirm="Log {observer.email} out of every browser and REST login now?' in html
    assert f'data-confirm="Turn off the second factor of {observer.email}?' in html


def test_revoking_an_api_token_asks_first(admin: User) -> None:
    issue_api_token(admin, "ci-deploy")
    assert 'data-confirm="Revoke the API token ci-deploy?' in as_user(admin).get("/account/").content.decode()


def test_deleting_an_enroll_secret_asks_and_names_it(admin: User) -> None:
    secret = EnrollSecret.objects.create(secret="s3cr3t-value", team=None)
    client = as_user(admin)
    page = client.post("/settings/secrets/", {"secret_action": "delete", "secret_id": secret.pk})
    html = page.content.decode()
    assert page.status_code == 200 and "Delete 1 enroll secret of no team (global)?" in html
    assert EnrollSecret.objects.filter(pk=secret.pk).exists()  # nothing happened yet


def test_bulk_transfer_and_delete_name_the_count_first(admin: User, team) -> None:
    hosts = [Host.objects.create(osquery_host_id=f"b{i}", hostname=f"bulk-{i}") for i in range(3)]
    client = as_user(admin)
    ids = [h.pk for h in hosts]
    html = client.post("/hosts/bulk/", {"action": "transfer", "team": team.pk, "ids": ids}).content.decode()
    assert "Move 3 hosts to Team A?" in html and "bulk-0" in html
    html = client.post("/hosts/bulk/", {"action": "delete", "ids": ids}).content.decode()
    assert "Delete 3 hosts?" in html
    assert Host.objects.filter(pk__in=ids, team=None).count() == 3


def test_each_delete_page_names_its_object(admin: User, observer: User, team) -> None:
    query = Query.objects.create(name="Installed apps", query="SELECT 1;")
    label = Label.objects.create(name="Front desk", query="SELECT 1;", label_type=1)
    policy = Policy.objects.create(name="Disk encrypted", query="SELECT 1;")
    client = as_user(admin)
    pages = [
        (f"/queries/{query.pk}/delete/", "Installed apps"),
        (f"/labels/{label.pk}/delete/", "Front desk"),
        (f"/policies/{policy.pk}/delete/", "Disk encrypted"),
        (f"/teams/{team.pk}/delete/", "Team A"),
        (f"/users/{observer.pk}/delete/", observer.email),
    ]
    for path, name in pages:
        page = client.get(path)
        assert page.status_code == 200, path
        html = page.content.decode()
        assert name in html and 'type="submit"' in html, path
    assert Query.objects.filter(pk=query.pk).exists() and Policy.objects.filter(pk=policy.pk).exists()


WRITE_CONTROLS = re.compile(r'class="[^"]*\bdanger\b|>(Delete|Add hosts|New query|New label|New policy|Transfer)<')


def test_an_observer_sees_no_write_controls_and_no_dead_links(observer: User, team) -> None:
    host = Host.objects.create(osquery_host_id="o1", hostname="observed-01", team=team)
    Policy.objects.create(name="Global policy", query="SELECT 1;")
    Policy.objects.create(name="Team policy", query="SELECT 1;", team=team)
    Query.objects.create(name="Team query", query="SELECT 1;", team=team)
    client = as_user(observer)
    links = set()
    for path in ("/", "/hosts/", f"/hosts/{host.pk}/", "/queries/", "/labels/", "/policies/"):
        page = client.get(path)
        assert page.status_code == 200, path
        html = page.content.decode()
        found = WRITE_CONTROLS.search(html)
        assert not found, (path, found and html[max(found.start() - 200, 0) : found.end() + 50])
        links |= set(re.findall(r'href="(/(?:policies|queries|labels|hosts)/\d+/)"', html))
    assert links  # the pages do link to objects
    for link in sorted(links):
        assert client.get(link).status_code == 200, link
