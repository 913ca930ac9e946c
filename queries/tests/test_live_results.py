"""A campaign's stored rows as a table: keyset pages, sort, filters, summary, CSV, history, and who sees what."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Team, User
from hosts.models import Host
from queries import campaigns, results
from queries.campaigns import CampaignAnswer
from queries.choices import CampaignStatus
from queries.models import Campaign, CampaignRow, CampaignTarget, Query


def browser_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_campaign(user: User, hosts: list[Host], status: int = CampaignStatus.COMPLETE) -> Campaign:
    query = Query.objects.create(name=f"adhoc-{Query.objects.count()}", query="SELECT * FROM users;", saved=False)
    campaign = Campaign.objects.create(
        query=query, user=user, status=status, selected={"hosts": [h.pk for h in hosts]},
        expires_at=timezone.now() + timedelta(hours=1),
    )  # fmt: skip
    CampaignTarget.objects.bulk_create([CampaignTarget(campaign=campaign, host=host) for host in hosts])
    return campaign


def answer(campaign: Campaign, host: Host, rows: list[dict] | None = None, error: str | None = None) -> None:
    campaigns.save(host, [CampaignAnswer(campaign.pk, rows or [], error, None)], timezone.now())


@pytest.fixture
def fleet(team: Team, other_team: Team) -> dict[str, Host]:
    return {
        "a": Host.objects.create(osquery_host_id="a", hostname="alpha", team=team),
        "b": Host.objects.create(osquery_host_id="b", hostname="bravo", team=other_team),
        "c": Host.objects.create(osquery_host_id="c", hostname="charlie", team=team),
    }


@pytest.fixture
def finished(admin: User, fleet: dict[str, Host]) -> Campaign:
    campaign = make_campaign(admin, list(fleet.values()))
    answer(campaign, fleet["a"], [{"username": f"user{n:02d}", "uid": str(n)} for n in range(30)])
    answer(campaign, fleet["b"], error="no such table: users")
    return campaign


def test_rows_are_stored_one_per_row_in_order_and_errors_store_none(finished: Campaign, fleet) -> None:
    stored = list(CampaignRow.objects.filter(campaign=finished).order_by("id"))
    assert len(stored) == 30
    assert [row.row_number for row in stored] == list(range(30))
    assert stored[0].data == {"username": "user00", "uid": "0"} and stored[0].host_display_name == "alpha"
    assert not CampaignRow.objects.filter(host=fleet["b"]).exists()


def test_keyset_pages_cover_every_row_once_in_both_directions(finished: Campaign, admin: User) -> None:
    rows = results.visible_rows(finished, admin)
    for sort, descending in (("", False), ("", True), ("username", False), ("username", True), ("uid", False)):
        seen: list[int] = []
        cursor: dict[str, str] | None = {}
        while cursor is not None:
            page = results.page(
                rows, sort, descending, int(cursor["after"]) if cursor else None, cursor.get("after_value"), size=7
            )
            seen += [row.pk for row in page.rows]
            cursor = page.next_cursor
        assert len(seen) == len(set(seen)) == 30, (sort, descending)
    names = [r.data["username"] for r in results.page(rows, "username", True, size=30).rows]
    assert names == sorted(names, reverse=True)
    uids = [r.data["uid"] for r in results.page(rows, "uid", size=30).rows]
    assert uids == sorted(uids)  # text order, as osquery's values are text


def test_a_bad_sort_column_is_refused(finished: Campaign, admin: User) -> None:
    with pytest.raises(ValueError):
        results.page(results.visible_rows(finished, admin), "x') OR 1=1 --")
    assert browser_for(admin).get(f"/queries/live/{finished.pk}/rows/?sort=a-b").status_code == 400


def test_finished_page_shows_its_final_state_first_page_and_summary(finished: Campaign, admin: User) -> None:
    response = browser_for(admin).get(f"/queries/live/{finished.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Waiting for hosts" not in html and "stored-results" not in html
    assert "1 answered · 1 errored · 1 did not answer · 30 rows" in html
    assert "no such table: users" in html
    assert html.count("<tr data-row=") == min(results.PAGE_SIZE, 30)
    assert 'id="next-page"' not in html


def test_rows_view_pages_filters_and_sorts(finished: Campaign, admin: User, fleet, monkeypatch) -> None:
    monkeypatch.setattr(results, "PAGE_SIZE", 10)
    client = browser_for(admin)
    first = client.get(f"/queries/live/{finished.pk}/rows/?sort=username&dir=desc").content.decode()
    assert first.count("<tr data-row=") == 10 and first.index("user29") < first.index("user28")
    assert "after_value=user20" in first
    second = client.get(f"/queries/live/{finished.pk}/rows/?sort=username&dir=desc&after_value=user20&after=" +
                        str(CampaignRow.objects.get(data__username="user20").pk)).content.decode()  # fmt: skip
    assert "user19" in second and "user20" not in second
    filtered = client.get(f"/queries/live/{finished.pk}/rows/?q=USER1").content.decode()
    assert filtered.count("<tr data-row=") == 10  # user10..user19
    assert (
        client.get(f"/queries/live/{finished.pk}/rows/?host={fleet['c'].pk}").content.decode().count("<tr data-row=")
        == 0
    )


def test_csv_streams_the_whole_result_with_filters(finished: Campaign, admin: User, monkeypatch) -> None:
    monkeypatch.setattr(results, "CSV_CHUNK", 7)
    response = browser_for(admin).get(f"/queries/live/{finished.pk}/results.csv")
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    # Host columns first; the row's own column order is the database's (PostgreSQL's jsonb sorts keys).
    assert list(table[0])[:2] == ["host_id", "host_display_name"]
    assert set(table[0]) == {"host_id", "host_display_name", "username", "uid"}
    assert len(table) == 30 and table[0]["host_display_name"] == "alpha"
    assert (table[0]["username"], table[0]["uid"], table[-1]["username"]) == ("user00", "0", "user29")
    only = browser_for(admin).get(f"/queries/live/{finished.pk}/results.csv?q=user2")
    assert len(b"".join(only.streaming_content).decode().strip().splitlines()) == 11


def test_team_users_see_only_their_teams_hosts(maintainer: User, fleet) -> None:
    campaign = make_campaign(maintainer, list(fleet.values()))
    answer(campaign, fleet["a"], [{"username": "mine"}])
    answer(campaign, fleet["b"], [{"username": "theirs"}])
    client = browser_for(maintainer)
    html = client.get(f"/queries/live/{campaign.pk}/").content.decode()
    assert "mine" in html and "theirs" not in html and "bravo" not in html
    body = b"".join(client.get(f"/queries/live/{campaign.pk}/results.csv").streaming_content).decode()
    assert "mine" in body and "theirs" not in body
    summary = results.summary(campaign, maintainer)
    assert [e["hostname"] for e in summary["answered"]] == ["alpha"] and summary["rows"] == 1


def test_other_users_campaigns_are_404(finished: Campaign, maintainer: User) -> None:
    client = browser_for(maintainer)
    for path in ("/", "/rows/", "/results.csv"):
        assert client.get(f"/queries/live/{finished.pk}{path}").status_code == 404, path


def test_anonymous_is_sent_to_login(finished: Campaign) -> None:
    assert Client().get(f"/queries/live/{finished.pk}/rows/").status_code == 302


def test_history_lists_who_ran_what_with_counts_and_rerun(finished: Campaign, admin: User, maintainer, fleet) -> None:
    theirs = make_campaign(maintainer, [fleet["a"]], status=CampaignStatus.RUNNING)
    html = browser_for(admin).get("/queries/live/history/").content.decode()
    assert "SELECT * FROM users;" in html and f"/queries/live/?rerun={finished.pk}" in html
    row = html.split(f'/queries/live/{finished.pk}/"', 1)[1].split("</tr>", 1)[0]
    assert "<td>3</td><td>1</td><td>1</td><td>30</td>" in row and "Finished" in row
    own = browser_for(maintainer).get("/queries/live/history/").content.decode()
    assert f"/queries/live/{theirs.pk}/" in own and f"/queries/live/{finished.pk}/" not in own and "Running" in own


def test_rerun_preloads_the_sql_and_hosts(finished: Campaign, admin: User) -> None:
    html = browser_for(admin).get(f"/queries/live/?rerun={finished.pk}").content.decode()
    assert "SELECT * FROM users;" in html and 'name="query_id"' not in html
    assert "alpha" in html


@pytest.mark.parametrize("row_count", [1, 1000])
def test_distributed_write_stays_a_constant_number_of_queries(api, agent, ubuntu_host, row_count) -> None:
    """Storing rows adds one INSERT per write, whatever the row count (batched only past ROW_BATCH)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from hosts import seen

    response = api.post(
        "/api/latest/fleet/queries/run", {"query": "SELECT 1;", "selected": {"hosts": [ubuntu_host.host.pk]}}
    )
    name = f"fleet_distributed_query_{response.json()['campaign']['id']}"
    body = ubuntu_host.body(queries={name: [{"n": str(n)} for n in range(row_count)]}, statuses={name: 0})
    with CaptureQueriesContext(connection) as captured:
        agent.json("/api/osquery/distributed/write", body)
    seen.buffer.discard()
    assert CampaignRow.objects.count() == row_count
    assert len(captured.captured_queries) <= 8  # 7 before rows were stored
