"""Roles are per team: what a user of one team can see and run of another team's things."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.choices import Role
from accounts.models import TeamMembership
from conftest import PASSWORD
from hosts import distributed
from hosts.labels import record_results
from hosts.models import Host, Label, LabelMembership
from queries.models import Campaign, CampaignTarget, Policy, PolicyMembership, Query

pytestmark = pytest.mark.django_db

RUN = "/api/latest/fleet/queries/run"


def logged_in(user) -> Client:
    client = Client()
    assert client.post("/login/", {"email": user.email, "password": PASSWORD}).status_code == 302
    return client


def test_ad_hoc_sql_of_another_user_cannot_be_run_previewed_or_copied(api_client_as, admin, maintainer, team):
    host = Host.objects.create(osquery_host_id="a", hostname="a", team=team)
    api_client_as(admin).post(RUN, {"query": "SELECT 'admin secret';", "selected": {"hosts": [host.pk]}})
    ad_hoc = Query.objects.get(saved=False)
    client = api_client_as(maintainer)
    response = client.post(RUN, {"query_id": ad_hoc.pk, "selected": {"hosts": [host.pk]}})
    assert response.status_code == 404
    policy = client.post(f"/api/latest/fleet/teams/{team.pk}/policies", {"name": "x", "query_id": ad_hoc.pk})
    assert policy.status_code == 404 and not Policy.objects.exists()
    page = logged_in(maintainer).get("/queries/live/", {"query_id": ad_hoc.pk}).content.decode()
    assert "admin secret" not in page
    assert Campaign.objects.count() == 1


def test_ad_hoc_live_queries_reach_only_teams_where_the_role_allows_them(api_client_as, maintainer, team, other_team):
    TeamMembership.objects.create(user=maintainer, team=other_team, role=Role.OBSERVER)
    mine = Host.objects.create(osquery_host_id="a", hostname="a", team=team)
    observed = Host.objects.create(osquery_host_id="b", hostname="b", team=other_team)
    client = api_client_as(maintainer)
    only_observed = client.post(RUN, {"query": "SELECT 1;", "selected": {"teams": [other_team.pk]}})
    assert only_observed.status_code == 400, only_observed.content
    both = client.post(RUN, {"query": "SELECT 1;", "selected": {"hosts": [mine.pk, observed.pk]}}).json()
    targets = set(CampaignTarget.objects.filter(campaign_id=both["campaign"]["id"]).values_list("host_id", flat=True))
    assert targets == {mine.pk}
    allowed = Query.objects.create(name="for observers", query="SELECT 1;", saved=True, observer_can_run=True)
    shared = client.post(RUN, {"query_id": allowed.pk, "selected": {"hosts": [mine.pk, observed.pk]}}).json()
    targets = set(CampaignTarget.objects.filter(campaign_id=shared["campaign"]["id"]).values_list("host_id", flat=True))
    assert targets == {mine.pk, observed.pk}


def test_manual_label_page_lists_only_the_users_hosts(observer, team, other_team):
    label = Label.objects.create(name="Pilot", label_membership_type="manual")
    label.hosts.set(
        [
            Host.objects.create(osquery_host_id="a", hostname="ours-1", team=team),
            Host.objects.create(osquery_host_id="b", hostname="theirs-1", team=other_team),
        ]
    )
    page = logged_in(observer).get(f"/labels/{label.pk}/").content.decode()
    assert "ours-1" in page and "theirs-1" not in page


def test_hosts_filter_bar_names_only_the_users_labels(observer, team, other_team):
    Label.objects.create(name="Team A label", query="SELECT 1;", team=team)
    Label.objects.create(name="Team B label", query="SELECT 1;", team=other_team)
    page = logged_in(observer).get("/hosts/").content.decode()
    assert "Team A label" in page and "Team B label" not in page


def test_team_label_queries_go_only_to_that_teams_hosts_and_other_answers_are_ignored(team, other_team):
    from django.utils import timezone

    ours = Label.objects.create(name="Team A label", query="SELECT 'a';", team=team)
    theirs = Label.objects.create(name="Team B label", query="SELECT 'b';", team=other_team)
    manual = Label.objects.create(name="Manual", label_membership_type="manual")
    host = Host.objects.create(osquery_host_id="a", hostname="a", team=team, platform="ubuntu")
    sent = distributed.host_queries(host, timezone.now(), {}).queries
    assert f"fleet_label_query_{ours.pk}" in sent and f"fleet_label_query_{theirs.pk}" not in sent
    record_results(host, {ours.pk, theirs.pk, manual.pk, 999_999}, set())
    assert set(LabelMembership.objects.filter(host=host).values_list("label_id", flat=True)) == {ours.pk}


def test_a_moved_host_shows_nothing_of_its_old_team(api, admin, team, other_team):
    host = Host.objects.create(osquery_host_id="a", hostname="a", team=team)
    old_policy = Policy.objects.create(name="old team check", query="SELECT 1;", team=team)
    global_policy = Policy.objects.create(name="everyone check", query="SELECT 1;")
    PolicyMembership.objects.create(policy=old_policy, host=host, passes=False)
    PolicyMembership.objects.create(policy=global_policy, host=host, passes=True)
    old_label = Label.objects.create(name="old team label", query="SELECT 1;", team=team)
    LabelMembership.objects.create(label=old_label, host=host)
    Host.objects.filter(pk=host.pk).update(team=other_team)
    detail = api.get(f"/api/latest/fleet/hosts/{host.pk}").json()["host"]
    assert [p["name"] for p in detail["policies"]] == ["everyone check"]
    assert "old team label" not in {label["name"] for label in detail["labels"]}
    listed = api.get("/api/latest/fleet/hosts").json()["hosts"][0]
    assert listed["issues"]["failing_policies_count"] == detail["issues"]["failing_policies_count"] == 0
    page = logged_in(admin).get(f"/hosts/{host.pk}/").content.decode()
    assert "old team check" not in page and "old team label" not in page


def test_team_users_see_policy_counts_over_their_teams_hosts_only(api_client_as, observer, admin, team, other_team):
    from queries.policies import refresh_counts

    policy = Policy.objects.create(name="everyone check", query="SELECT 1;")
    for index, (host_team, passes) in enumerate([(team, True), (other_team, False), (other_team, False)]):
        host = Host.objects.create(osquery_host_id=f"h{index}", team=host_team)
        PolicyMembership.objects.create(policy=policy, host=host, passes=passes)
    refresh_counts()
    team_view = api_client_as(observer).get(f"/api/latest/fleet/teams/{team.pk}/policies").json()
    inherited = team_view["inherited_policies"][0]
    assert (inherited["passing_host_count"], inherited["failing_host_count"]) == (1, 0)
    single = api_client_as(observer).get(f"/api/latest/fleet/policies/{policy.pk}")
    assert single.status_code == 200 and single.json()["policy"]["failing_host_count"] == 0
    fleet = api_client_as(admin).get("/api/latest/fleet/policies").json()["policies"][0]
    assert (fleet["passing_host_count"], fleet["failing_host_count"]) == (1, 2)
    page = logged_in(observer).get("/policies/").content.decode()
    assert 'policy_response=failing">0</a>' in page


def test_software_versions_found_only_on_another_teams_hosts_stay_hidden(api_client_as, observer, team, other_team):
    from hosts.models import HostSoftware, Software

    ours = Host.objects.create(osquery_host_id="a", team=team)
    theirs = Host.objects.create(osquery_host_id="b", team=other_team)
    old = Software.objects.create(name="curl", version="7", source="deb_packages", checksum="a")
    new = Software.objects.create(name="curl", version="8.9-internal", source="deb_packages", checksum="b")
    HostSoftware.objects.create(host=ours, software=old)
    HostSoftware.objects.create(host=theirs, software=new)
    client = api_client_as(observer)
    title = client.get("/api/latest/fleet/software/titles").json()["software_titles"][0]
    assert [version["version"] for version in title["versions"]] == ["7"]
    detail = client.get(f"/api/latest/fleet/software/titles/{title['id']}").json()["software_title"]
    assert [version["version"] for version in detail["versions"]] == ["7"]
    assert "8.9-internal" not in logged_in(observer).get("/software/").content.decode()


def test_agents_answer_only_policies_they_run(team, other_team):
    from django.utils import timezone

    from queries.policies import save

    host = Host.objects.create(osquery_host_id="a", team=team, platform="ubuntu")
    ours = Policy.objects.create(name="ours", query="SELECT 1;", team=team)
    theirs = Policy.objects.create(name="theirs", query="SELECT 1;", team=other_team)
    mac_only = Policy.objects.create(name="mac", query="SELECT 1;", platform="darwin")
    save(host, {ours.pk: True, theirs.pk: False, mac_only.pk: False, 999_999: True}, timezone.now())
    assert list(PolicyMembership.objects.filter(host=host).values_list("policy_id", flat=True)) == [ours.pk]
