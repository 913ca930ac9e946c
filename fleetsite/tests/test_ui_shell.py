"""The admin UI's shell: the top bar per role, stable list addresses, confirmation steps, observers' pages."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import Team, User
from enrollment.models import EnrollSecret
from queries.models import Policy


def browser_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def nav_of(html: str) -> list[str]:
    """The top bar's link texts, in order."""
    bar = html.split('<nav class="mainnav"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r">([^<]+)</a>", bar)


def test_admins_see_every_area_and_admin_once(admin: User) -> None:
    admin.name = "Admin"  # as `manage.py ensure_admin` names the first admin
    admin.is_staff = True
    admin.save()
    html = browser_for(admin).get("/hosts/").content.decode()
    assert nav_of(html) == [
        "Hosts", "Queries", "Live queries", "Labels", "Policies", "Software", "Vulnerabilities",
        "Software installers", "Scripts", "fleetd installers", "Activity", "Settings",
    ]  # fmt: skip
    header = html.split("<header", 1)[1].split("</header>", 1)[0]
    assert len(re.findall(r">Admin<", header)) == 1 and "Database admin" in header


@pytest.mark.parametrize(
    ("role", "live", "installers"),
    [
        ("observer", False, False),
        ("observer_plus", True, False),
        ("team_observer_plus", True, False),
        ("global_maintainer", True, False),
    ],  # fmt: skip
)
def test_the_top_bar_lists_only_what_the_role_can_use(
    request: pytest.FixtureRequest, role: str, live: bool, installers: bool
) -> None:
    user = request.getfixturevalue(role)
    client = browser_for(user)
    html = client.get("/hosts/").content.decode()
    entries = nav_of(html)
    assert ("Live queries" in entries) is live and ("fleetd installers" in entries) is installers
    # Every link of the bar and of the hosts page opens for this user: none ends in 403 or 404.
    main = html.split('class="mainnav"', 1)[1]
    for href in set(re.findall(r'href="(/[^"?#]*/)"', main)) - {"/logout/", "/admin/"}:
        assert client.get(href).status_code == 200, href


def test_the_current_section_is_the_longest_match(admin: User) -> None:
    html = browser_for(admin).get("/queries/live/").content.decode()
    assert '<a href="/queries/live/" aria-current="page">Live queries</a>' in html
    assert '<a href="/queries/" aria-current' not in html


def test_the_filter_form_requests_the_path_so_the_address_never_grows(admin: User) -> None:
    html = browser_for(admin).get("/hosts/?status=online&status=offline&team_id=").content.decode()
    form = html.split('<form class="filters"', 1)[1].split(">", 1)[0]
    assert 'hx-get="/hosts/"' in form and 'action="/hosts/"' in form


def test_dashboard_links_arrive_with_their_filter_in_the_boxes(admin: User) -> None:
    client = browser_for(admin)
    low = client.get("/hosts/?low_disk_space=32").content.decode()
    assert 'name="low_disk_space" min="1" max="100" value="32"' in low
    missing = client.get("/hosts/?status=missing").content.decode()
    status = missing.split('name="status"', 1)[1].split("</select>", 1)[0]
    assert '<option value="missing" selected>' in status


def test_enroll_secret_deletion_names_what_happens_and_waits_for_confirmation(admin: User, team: Team) -> None:
    secret = EnrollSecret.objects.create(secret="s3cret-one", team=team)
    client = browser_for(admin)
    step = client.post(f"/teams/{team.pk}/", {"secret_action": "delete", "secret_id": secret.pk})
    html = step.content.decode()
    assert step.status_code == 200 and f"Delete 1 enroll secret of the team {team.name}?" in html
    assert "can no longer enroll" in html and EnrollSecret.objects.filter(pk=secret.pk).exists()
    done = client.post(f"/teams/{team.pk}/", {"secret_action": "delete", "secret_id": secret.pk, "confirm": "1"})
    assert done.status_code == 302 and not EnrollSecret.objects.filter(pk=secret.pk).exists()


def test_global_secret_deletion_asks_first(admin: User) -> None:
    secret = EnrollSecret.objects.create(secret="global-one")
    client = browser_for(admin)
    step = client.post("/settings/secrets/", {"secret_action": "delete", "secret_id": secret.pk})
    assert b"Delete 1 enroll secret of no team (global)?" in step.content
    assert EnrollSecret.objects.filter(pk=secret.pk).exists()
    client.post("/settings/secrets/", {"secret_action": "delete", "secret_id": secret.pk, "confirm": "1"})
    assert not EnrollSecret.objects.filter(pk=secret.pk).exists()


def test_observers_read_policies_without_write_controls(observer: User, team: Team) -> None:
    policy = Policy.objects.create(name="Disk encrypted", query="SELECT 1;", resolution="Turn it on", team=team)
    client = browser_for(observer)
    listing = client.get("/policies/").content.decode()
    assert "Add policy" not in listing and f'href="/policies/{policy.pk}/"' in listing
    page = client.get(f"/policies/{policy.pk}/")
    main = page.content.decode().split("<main", 1)[1]
    assert page.status_code == 200 and "Turn it on" in main and "disabled" in main
    assert 'type="submit"' not in main and "changing it needs a maintainer or admin role" in main
    assert client.post(f"/policies/{policy.pk}/", {"name": "changed", "query": "SELECT 2;"}).status_code == 200
    policy.refresh_from_db()
    assert policy.name == "Disk encrypted"
    assert client.get("/policies/new/").status_code == 403


def test_observers_get_no_add_hosts_button(observer: User, admin: User) -> None:
    assert 'href="/hosts/add/"' not in browser_for(observer).get("/").content.decode()
    assert 'href="/hosts/add/"' in browser_for(admin).get("/").content.decode()


def test_label_and_policy_deletion_say_how_many_hosts_are_affected(admin: User) -> None:
    from hosts.models import Host, Label
    from queries.models import PolicyMembership

    hosts = [Host.objects.create(osquery_host_id=f"h{i}", hostname=f"h{i}") for i in range(3)]
    label = Label.objects.create(name="Pilot", label_membership_type="manual")
    label.hosts.set(hosts[:2])
    policy = Policy.objects.create(name="Firewall", query="SELECT 1;")
    PolicyMembership.objects.bulk_create([PolicyMembership(policy=policy, host=host, passes=True) for host in hosts])
    client = browser_for(admin)
    assert "2 hosts will lose this label" in client.get(f"/labels/{label.pk}/delete/").content.decode()
    assert "3 hosts stop running it" in client.get(f"/policies/{policy.pk}/delete/").content.decode()
    assert Label.objects.filter(pk=label.pk).exists() and Policy.objects.filter(pk=policy.pk).exists()


@pytest.mark.parametrize(
    "role", ["global_observer", "observer", "observer_plus", "team_observer_plus", "maintainer", "team_admin"]
)
def test_no_link_a_role_sees_leads_to_a_denial(request: pytest.FixtureRequest, role: str, team: Team) -> None:
    """Every same-site link on the pages the top bar opens, followed once, opens for observers and team roles."""
    from hosts.models import Host, Label
    from queries.models import Query

    host = Host.objects.create(osquery_host_id="o1", hostname="obs-host", team=team)
    Query.objects.create(name="uptime", query="SELECT 1;", team=team, saved=True)
    Label.objects.create(name="Pilot", label_membership_type="manual")
    Policy.objects.create(name="Disk", query="SELECT 1;", team=team)
    client = browser_for(request.getfixturevalue(role))
    pages = ["/", "/hosts/", "/queries/", "/labels/", "/policies/", "/software/", "/activity/", "/settings/", "/teams/",
             f"/teams/{team.pk}/", f"/hosts/{host.pk}/"]  # fmt: skip
    seen: set[str] = set()
    for start in pages:
        html = client.get(start).content.decode()
        for href in set(re.findall(r'href="(/[^"#]*)"', html)) - seen:
            seen.add(href)
            if href.startswith(("/static/", "/logout/", "/admin/")) or href.endswith((".csv",)):
                continue
            assert client.get(href.replace("&amp;", "&")).status_code == 200, f"{start} links to {href}"


@pytest.mark.parametrize("role", ["global_observer", "observer"])
def test_observers_pages_have_no_write_controls(request: pytest.FixtureRequest, role: str, team: Team) -> None:
    """No form that posts (logging out and refetching aside: Fleet lets observers refetch a host) and no
    Add/Delete/Edit buttons on the pages observers read."""
    from hosts.models import Host, Label
    from queries.models import Query

    host = Host.objects.create(osquery_host_id="o1", hostname="obs-host", team=team)
    query = Query.objects.create(name="uptime", query="SELECT 1;", team=team, saved=True)
    label = Label.objects.create(name="Pilot", label_membership_type="manual")
    policy = Policy.objects.create(name="Disk", query="SELECT 1;", team=team)
    client = browser_for(request.getfixturevalue(role))
    pages = ["/", "/hosts/", f"/hosts/{host.pk}/", "/queries/", f"/queries/{query.pk}/", "/labels/",
             f"/labels/{label.pk}/", "/policies/", f"/policies/{policy.pk}/", "/settings/",
             f"/teams/{team.pk}/"]  # fmt: skip
    for path in pages:
        main = client.get(path).content.decode().split("<main", 1)[1]
        # A read-only page may show its fields in a disabled form, but with nothing that submits it.
        posting = re.findall(r'<form method="post".*?</form>', main, re.S)
        usable = [form for form in posting if "<button" in form and f'"/hosts/{host.pk}/refetch/"' not in form]
        assert not usable, (path, usable)
        assert not re.search(r">\s*(Add \w+|Delete[^<]*|Edit|Rename|Transfer)\s*<", main), path


def test_pending_invites_show_the_role_by_its_name(admin: User) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import Invite

    Invite.objects.create(email="new@example.com", global_role="observer_plus", token_digest="x" * 64,
                          expires_at=timezone.now() + timedelta(days=5))  # fmt: skip
    main = browser_for(admin).get("/users/").content.decode().split("<main", 1)[1]
    assert "Observer+" in main and "observer_plus" not in main
