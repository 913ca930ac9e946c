"""Query reports: result logs become rows (snapshot, differential, caps), retention, and the report REST."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson
import pytest
from django.utils import timezone

from accounts.models import Team, User
from conftest import AgentClient, APIClient
from enrollment.tests.fixtures import EnrolledHost
from hosts.models import Host
from queries import reports
from queries.models import Query, QueryReportRow

pytestmark = pytest.mark.django_db

LOG = "/api/osquery/log"


def body_of(response: Any) -> Any:
    return orjson.loads(response.content)


def snapshot(name: str, *rows: dict) -> dict:
    return {"name": name, "hostIdentifier": "h", "unixTime": 1700000000, "action": "snapshot", "snapshot": list(rows)}


def diff(name: str, action: str, columns: dict) -> dict:
    return {"name": name, "hostIdentifier": "h", "unixTime": 1700000000, "action": action, "columns": columns}


def send(agent: AgentClient, host: EnrolledHost, *entries: dict) -> None:
    agent.json(LOG, host.body(log_type="result", data=list(entries)))


def rows_of(query: Query, host: Host | None = None) -> list[dict]:
    rows = QueryReportRow.objects.filter(query=query).order_by("id")
    if host is not None:
        rows = rows.filter(host=host)
    return [row.data for row in rows]


@pytest.fixture
def users_query(db: None) -> Query:
    return Query.objects.create(name="users", query="SELECT * FROM users", interval=60)


# --- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("pack/Global/users", (0, "users")),
        ("pack/team-12/users", (12, "users")),
        ("pack/Global/a/b", (0, "a/b")),
        ("pack/team-x/users", None),
        ("pack/legacy/users", None),
        ("pack/Global/", None),
        ("users", None),
        (None, None),
        (5, None),
    ],
)
def test_parse_name(name: Any, expected: Any) -> None:
    assert reports.parse_name(name) == expected


# --- ingest ------------------------------------------------------------------------------------


def test_snapshot_replaces_the_hosts_rows(agent: AgentClient, ubuntu_host: EnrolledHost, users_query: Query) -> None:
    send(agent, ubuntu_host, snapshot("pack/Global/users", {"uid": "0"}, {"uid": "1"}))
    assert rows_of(users_query) == [{"uid": "0"}, {"uid": "1"}]
    send(agent, ubuntu_host, snapshot("pack/Global/users", {"uid": "2"}))
    assert rows_of(users_query) == [{"uid": "2"}]
    send(agent, ubuntu_host, snapshot("pack/Global/users"))
    assert rows_of(users_query) == []


def test_differential_adds_and_removes(agent: AgentClient, ubuntu_host: EnrolledHost, users_query: Query) -> None:
    name = "pack/Global/users"
    send(agent, ubuntu_host, diff(name, "added", {"uid": "0"}), diff(name, "added", {"uid": "1"}))
    send(agent, ubuntu_host, diff(name, "removed", {"uid": "0"}), diff(name, "added", {"uid": "2"}))
    assert rows_of(users_query) == [{"uid": "1"}, {"uid": "2"}]
    # Added then removed in the same batch: never stored; removing an unknown row is harmless.
    send(agent, ubuntu_host, diff(name, "added", {"uid": "3"}), diff(name, "removed", {"uid": "3"}))
    send(agent, ubuntu_host, diff(name, "removed", {"uid": "99"}))
    assert rows_of(users_query) == [{"uid": "1"}, {"uid": "2"}]


def test_rows_are_kept_per_host(
    agent: AgentClient, enroll_host: Callable[..., EnrolledHost], users_query: Query
) -> None:
    first = enroll_host()
    second = enroll_host(host_identifier="second-host")
    send(agent, first, snapshot("pack/Global/users", {"uid": "1"}))
    send(agent, second, snapshot("pack/Global/users", {"uid": "2"}))
    send(agent, first, snapshot("pack/Global/users", {"uid": "3"}))
    assert rows_of(users_query, first.host) == [{"uid": "3"}]
    assert rows_of(users_query, second.host) == [{"uid": "2"}]


def test_nul_bytes_are_removed_and_a_row_too_deep_to_store_is_dropped_alone(
    agent: AgentClient, ubuntu_host: EnrolledHost, users_query: Query
) -> None:
    """A clean request's rows are stored as sent; one odd row makes each row be fitted on its own."""
    name = "pack/Global/users"
    send(agent, ubuntu_host, snapshot(name, {"uid": "0", "shell": "/bin/\x00sh"}, {"uid\x00": "1"}))
    assert rows_of(users_query) == [{"uid": "0", "shell": "/bin/sh"}, {"uid": "1"}]
    send(agent, ubuntu_host, diff(name, "added", {"uid": "2\x00"}), diff(name, "removed", {"uid": "1"}))
    assert rows_of(users_query) == [{"uid": "0", "shell": "/bin/sh"}, {"uid": "2"}]
    # Spliced in as text: orjson writes no deeper than 255 levels, so this row cannot be stored.
    deep = b"[" * 300 + b"1" + b"]" * 300
    entries = [snapshot(name, {"uid": "3"}, {"deep": "<deep>"}, {"uid": "4"})]
    raw = orjson.dumps(ubuntu_host.body(log_type="result", data=entries)).replace(b'"<deep>"', deep)
    assert agent.post(LOG, None, raw=raw).status_code == 200
    assert rows_of(users_query) == [{"uid": "3"}, {"uid": "4"}]


def test_row_cap_per_host_while_ingesting(agent: AgentClient, ubuntu_host: EnrolledHost) -> None:
    query = Query.objects.create(name="capped", query="SELECT 1", interval=60, report_max_rows=2)
    send(agent, ubuntu_host, snapshot("pack/Global/capped", {"n": "1"}, {"n": "2"}, {"n": "3"}))
    assert rows_of(query) == [{"n": "1"}, {"n": "2"}]
    send(agent, ubuntu_host, diff("pack/Global/capped", "added", {"n": "4"}))
    assert len(rows_of(query)) == 2
    send(agent, ubuntu_host, diff("pack/Global/capped", "removed", {"n": "1"}))
    send(agent, ubuntu_host, diff("pack/Global/capped", "added", {"n": "5"}))
    assert rows_of(query) == [{"n": "2"}, {"n": "5"}]


def test_discard_data_unknown_and_foreign_names_store_nothing(
    agent: AgentClient, enroll_host: Callable[..., EnrolledHost], team: Team, other_team: Team, team_secret: str
) -> None:
    Query.objects.create(name="discarded", query="SELECT 1", interval=60, discard_data=True)
    foreign = Query.objects.create(name="theirs", query="SELECT 1", interval=60, team=other_team)
    host = enroll_host(secret=team_secret)
    send(
        agent,
        host,
        snapshot("pack/Global/discarded", {"a": "1"}),
        snapshot("pack/Global/unknown", {"a": "1"}),
        snapshot(f"pack/team-{other_team.pk}/theirs", {"a": "1"}),
        snapshot("pack/legacy/whatever", {"a": "1"}),
        {"name": "pack/Global/discarded", "action": "added", "columns": "not an object"},
        {"no name": True},
    )
    assert not QueryReportRow.objects.exists()
    assert foreign.report_rows.count() == 0


def test_team_and_global_queries_with_the_same_name(
    agent: AgentClient, enroll_host: Callable[..., EnrolledHost], team: Team, team_secret: str
) -> None:
    global_query = Query.objects.create(name="users", query="SELECT 1", interval=60)
    team_query = Query.objects.create(name="users", query="SELECT 2", interval=60, team=team)
    host = enroll_host(secret=team_secret)
    send(agent, host, snapshot("pack/Global/users", {"g": "1"}), snapshot(f"pack/team-{team.pk}/users", {"t": "1"}))
    assert rows_of(global_query) == [{"g": "1"}]
    assert rows_of(team_query) == [{"t": "1"}]


def test_a_query_created_after_caching_is_found(
    agent: AgentClient, ubuntu_host: EnrolledHost, users_query: Query
) -> None:
    send(agent, ubuntu_host, snapshot("pack/Global/users", {"uid": "0"}))
    later = Query.objects.create(name="later", query="SELECT 1", interval=60)
    send(agent, ubuntu_host, snapshot("pack/Global/later", {"x": "1"}))
    assert rows_of(later) == [{"x": "1"}]


def test_status_logs_do_not_make_rows(agent: AgentClient, ubuntu_host: EnrolledHost, users_query: Query) -> None:
    agent.json(LOG, ubuntu_host.body(log_type="status", data=[snapshot("pack/Global/users", {"uid": "0"})]))
    assert not QueryReportRow.objects.exists()


def test_ingest_costs_constant_sql(
    agent: AgentClient, ubuntu_host: EnrolledHost, django_assert_max_num_queries: Any
) -> None:
    names = [f"q{i}" for i in range(20)]
    for name in names:
        Query.objects.create(name=name, query="SELECT 1", interval=60)
    send(agent, ubuntu_host, *(diff(f"pack/Global/{name}", "added", {"n": "0"}) for name in names))  # warm caches
    # One line of each kind: an add, a removal and a snapshot.
    small = [
        diff("pack/Global/q0", "added", {"n": "1"}),
        diff("pack/Global/q2", "removed", {"n": "0"}),
        snapshot("pack/Global/q1", {"n": "1"}),
    ]
    big = [
        *(diff(f"pack/Global/{name}", "added", {"n": str(i)}) for i in range(30) for name in names),
        *(diff(f"pack/Global/{name}", "removed", {"n": "0"}) for name in names[:10]),
        *(snapshot(f"pack/Global/{name}", *({"n": str(i)} for i in range(50))) for name in names[10:]),
    ]
    with django_assert_max_num_queries(12) as small_run:
        send(agent, ubuntu_host, *small)
    with django_assert_max_num_queries(len(small_run.captured_queries)):
        send(agent, ubuntu_host, *big)
    assert QueryReportRow.objects.filter(query__name="q0").count() == 31
    assert QueryReportRow.objects.filter(query__name="q15").count() == 50


def test_database_errors_do_not_fail_the_agent(
    agent: AgentClient, ubuntu_host: EnrolledHost, users_query: Query, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import DatabaseError

    def broken(*args: Any, **kwargs: Any) -> None:
        raise DatabaseError("disk full")

    monkeypatch.setattr(reports, "_apply", broken)
    send(agent, ubuntu_host, snapshot("pack/Global/users", {"uid": "0"}))


# --- batched writes (FLEETSITE_REPORT_FLUSH_INTERVAL > 0, production's default) ----------------


@pytest.fixture
def batched(settings: Any) -> None:
    """Rows wait for the flusher; the interval is long enough that only the test flushes."""
    settings.FLEETSITE_REPORT_FLUSH_INTERVAL = 3600


def _report_writes(queries: list[dict]) -> list[str]:
    table = QueryReportRow._meta.db_table
    return [q["sql"] for q in queries if table in q["sql"] and not q["sql"].lstrip().upper().startswith("SELECT")]


def test_batched_log_requests_write_nothing_until_the_flush(
    agent: AgentClient,
    ubuntu_host: EnrolledHost,
    users_query: Query,
    batched: None,
    django_assert_max_num_queries: Any,
) -> None:
    with django_assert_max_num_queries(3) as run:
        send(agent, ubuntu_host, snapshot("pack/Global/users", {"uid": "0"}, {"uid": "1"}))
    assert _report_writes(run.captured_queries) == []
    assert rows_of(users_query) == []
    assert reports.pending_rows.flush() == 1
    assert rows_of(users_query) == [{"uid": "0"}, {"uid": "1"}]
    assert reports.pending_rows.pending() == 0


def test_batched_requests_end_as_if_each_was_written_at_once(
    agent: AgentClient, enroll_host: Callable[..., EnrolledHost], users_query: Query, batched: None
) -> None:
    """A later snapshot supersedes what waits; differential lines apply in their order; caps still hold."""
    name = "pack/Global/users"
    capped = Query.objects.create(name="capped", query="SELECT 1", interval=60, report_max_rows=2)
    first, second = enroll_host(), enroll_host(host_identifier="second-host")
    QueryReportRow.objects.create(query=users_query, host=second.host, data={"uid": "old"})
    send(agent, first, snapshot(name, {"uid": "0"}))
    send(agent, first, diff(name, "added", {"uid": "1"}), diff(name, "added", {"uid": "2"}))
    send(agent, first, diff(name, "removed", {"uid": "1"}))
    send(agent, second, diff(name, "removed", {"uid": "old"}), diff(name, "added", {"uid": "new"}))
    send(agent, second, snapshot("pack/Global/capped", {"n": "1"}, {"n": "2"}, {"n": "3"}))
    send(agent, first, snapshot("pack/Global/capped", {"n": "9"}))
    send(agent, first, snapshot("pack/Global/capped", {"n": "8"}))
    reports.pending_rows.flush()
    assert rows_of(users_query, first.host) == [{"uid": "0"}, {"uid": "2"}]
    assert rows_of(users_query, second.host) == [{"uid": "new"}]
    assert rows_of(capped, second.host) == [{"n": "1"}, {"n": "2"}]
    assert rows_of(capped, first.host) == [{"n": "8"}]


def test_a_flush_costs_the_same_sql_for_many_hosts(
    agent: AgentClient,
    enroll_host: Callable[..., EnrolledHost],
    users_query: Query,
    batched: None,
    django_assert_max_num_queries: Any,
) -> None:
    Query.objects.create(name="appended", query="SELECT 1", interval=60)
    Query.objects.create(name="snapped", query="SELECT 1", interval=60)
    hosts = [enroll_host(host_identifier=f"host-{i}") for i in range(12)]

    def each_kind(host: EnrolledHost) -> None:
        """A removal (stored rows are read), an append (rows are counted) and a snapshot (rows replaced)."""
        send(
            agent,
            host,
            diff("pack/Global/users", "removed", {"uid": "0"}),
            diff("pack/Global/users", "added", {"u": "2"}),
        )
        send(
            agent,
            host,
            diff("pack/Global/appended", "added", {"uid": "3"}),
            snapshot("pack/Global/snapped", {"s": "1"}),
        )

    for host in hosts[:2]:
        each_kind(host)
    with django_assert_max_num_queries(12) as few:
        assert reports.pending_rows.flush() == 2
    few_hosts_cost = len(few)  # read now: the next request empties the query log
    for host in hosts:
        each_kind(host)
    with django_assert_max_num_queries(few_hosts_cost):
        assert reports.pending_rows.flush() == 12
    assert QueryReportRow.objects.filter(query=users_query).count() == 2 * 2 + 10
    assert QueryReportRow.objects.filter(query__name="appended").count() == 2 * 2 + 10
    assert QueryReportRow.objects.filter(query__name="snapped").count() == 12


def test_a_flush_replaces_only_the_host_and_query_pairs_it_received(
    agent: AgentClient, enroll_host: Callable[..., EnrolledHost], users_query: Query, batched: None
) -> None:
    """One host's snapshot of one query, another's of another: the crossed pairs keep their rows."""
    other = Query.objects.create(name="other", query="SELECT 1", interval=60)
    first, second = enroll_host(), enroll_host(host_identifier="second-host")
    for query in (users_query, other):
        for host in (first, second):
            QueryReportRow.objects.create(query=query, host=host.host, data={"stored": f"{query.name}-{host.host.pk}"})
    send(agent, first, snapshot("pack/Global/users", {"uid": "first"}))
    send(agent, second, snapshot("pack/Global/other", {"uid": "second"}))
    assert reports.pending_rows.flush() == 2
    assert rows_of(users_query, first.host) == [{"uid": "first"}]
    assert rows_of(other, second.host) == [{"uid": "second"}]
    assert rows_of(other, first.host) == [{"stored": f"other-{first.host.pk}"}]
    assert rows_of(users_query, second.host) == [{"stored": f"users-{second.host.pk}"}]


def test_rows_of_a_host_or_query_deleted_before_the_flush_are_dropped_alone(
    agent: AgentClient, enroll_host: Callable[..., EnrolledHost], users_query: Query, batched: None
) -> None:
    gone, kept = enroll_host(), enroll_host(host_identifier="kept")
    dropped = Query.objects.create(name="dropped", query="SELECT 1", interval=60)
    send(agent, gone, snapshot("pack/Global/users", {"uid": "0"}))
    send(agent, kept, snapshot("pack/Global/users", {"uid": "1"}), snapshot("pack/Global/dropped", {"x": "1"}))
    gone.host.delete()
    dropped.delete()
    assert reports.pending_rows.flush() == 1
    assert rows_of(users_query) == [{"uid": "1"}]


# --- retention ---------------------------------------------------------------------------------


def _row(query: Query, host: Host, age: timedelta, n: int) -> QueryReportRow:
    return QueryReportRow.objects.create(query=query, host=host, data={"n": n}, last_fetched=timezone.now() - age)


def test_retention_by_age_and_rows(ubuntu_host: EnrolledHost) -> None:
    host = ubuntu_host.host
    aged = Query.objects.create(name="aged", query="SELECT 1", report_max_age_days=2)
    capped = Query.objects.create(name="capped", query="SELECT 1", report_max_rows=3)
    forever = Query.objects.create(name="forever", query="SELECT 1")
    _row(aged, host, timedelta(days=3), 1)
    _row(aged, host, timedelta(days=1), 2)
    for n in range(6):
        _row(capped, host, timedelta(hours=10 - n), n)
    _row(forever, host, timedelta(days=400), 1)
    assert reports.enforce_retention() == 4
    assert [row.data["n"] for row in aged.report_rows.all()] == [2]
    assert sorted(row.data["n"] for row in capped.report_rows.all()) == [3, 4, 5]
    assert forever.report_rows.count() == 1
    assert reports.enforce_retention() == 0


def test_retention_ties_on_time_keep_exactly_the_cap(ubuntu_host: EnrolledHost) -> None:
    capped = Query.objects.create(name="capped", query="SELECT 1", report_max_rows=2)
    now = timezone.now()
    QueryReportRow.objects.bulk_create(
        [QueryReportRow(query=capped, host=ubuntu_host.host, data={"n": n}, last_fetched=now) for n in range(5)]
    )
    assert reports.enforce_retention(now) == 3
    assert capped.report_rows.count() == 2


# --- REST --------------------------------------------------------------------------------------


def test_report_json(api: APIClient, agent: AgentClient, ubuntu_host: EnrolledHost, users_query: Query) -> None:
    send(agent, ubuntu_host, snapshot("pack/Global/users", {"uid": "0", "username": "root"}))
    body = body_of(api.get(f"/api/latest/fleet/queries/{users_query.pk}/report"))
    assert body["query_id"] == body["report_id"] == users_query.pk
    assert body["report_clipped"] is False
    (result,) = body["results"]
    assert result["host_id"] == ubuntu_host.host.pk
    assert result["host_name"] == ubuntu_host.refresh().display_name
    assert result["columns"] == {"uid": "0", "username": "root"} and result["last_fetched"].endswith("Z")


def test_report_filter_by_host_and_clipping(
    api: APIClient, agent: AgentClient, enroll_host: Callable[..., EnrolledHost]
) -> None:
    query = Query.objects.create(name="users", query="SELECT 1", interval=60, report_max_rows=2)
    first, second = enroll_host(), enroll_host(host_identifier="second-host")
    send(agent, first, snapshot("pack/Global/users", {"uid": "1"}, {"uid": "2"}))
    send(agent, second, snapshot("pack/Global/users", {"uid": "3"}))
    path = f"/api/latest/fleet/queries/{query.pk}/report"
    body = body_of(api.get(path, {"host_id": second.host.pk}))
    assert [r["columns"] for r in body["results"]] == [{"uid": "3"}]
    assert body["report_clipped"] is True
    assert api.get(path, {"host_id": "x"}).status_code == 400
    assert api.get(path, {"format": "xml"}).status_code == 400


def test_report_csv(api: APIClient, agent: AgentClient, ubuntu_host: EnrolledHost, users_query: Query) -> None:
    send(agent, ubuntu_host, snapshot("pack/Global/users", {"uid": "0"}, {"uid": "1", "shell": "=cmd()"}))
    response = api.get(f"/api/latest/fleet/queries/{users_query.pk}/report", {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert lines[0] == ["host_name", "last_fetched", "uid", "shell"]
    assert [line[2:] for line in lines[1:]] == [["0", ""], ["1", "'=cmd()"]]


def test_team_users_see_only_their_hosts_rows(
    api_client_as: Callable[[User | None], APIClient],
    observer: User,
    agent: AgentClient,
    enroll_host: Callable[..., EnrolledHost],
    team_secret: str,
    users_query: Query,
) -> None:
    mine = enroll_host(secret=team_secret)
    other = enroll_host(host_identifier="no-team-host")
    send(agent, mine, snapshot("pack/Global/users", {"uid": "mine"}))
    send(agent, other, snapshot("pack/Global/users", {"uid": "other"}))
    body = body_of(api_client_as(observer).get(f"/api/latest/fleet/queries/{users_query.pk}/report"))
    assert [r["columns"]["uid"] for r in body["results"]] == ["mine"]


def test_host_report(api: APIClient, agent: AgentClient, ubuntu_host: EnrolledHost, users_query: Query) -> None:
    send(agent, ubuntu_host, snapshot("pack/Global/users", {"uid": "0"}))
    host_id = ubuntu_host.host.pk
    body = body_of(api.get(f"/api/latest/fleet/hosts/{host_id}/queries/{users_query.pk}"))
    assert body["query_id"] == users_query.pk and body["host_id"] == host_id
    assert body["results"] == [{"columns": {"uid": "0"}}] and body["last_fetched"] is not None
    empty = Query.objects.create(name="empty", query="SELECT 1")
    body = body_of(api.get(f"/api/latest/fleet/hosts/{host_id}/queries/{empty.pk}"))
    assert body["results"] == [] and body["last_fetched"] is None


def test_host_report_hidden_host_or_query_is_404(
    api_client_as: Callable[[User | None], APIClient],
    outsider: User,
    ubuntu_host: EnrolledHost,
    users_query: Query,
    team: Team,
) -> None:
    client = api_client_as(outsider)
    team_query = Query.objects.create(name="t", query="SELECT 1", team=team)
    assert client.get(f"/api/latest/fleet/hosts/{ubuntu_host.host.pk}/queries/{users_query.pk}").status_code == 404
    assert client.get(f"/api/latest/fleet/queries/{team_query.pk}/report").status_code == 404
    assert APIClient().get(f"/api/latest/fleet/queries/{users_query.pk}/report").status_code == 401


def test_changing_the_sql_clears_the_report(
    api: APIClient, agent: AgentClient, ubuntu_host: EnrolledHost, users_query: Query
) -> None:
    send(agent, ubuntu_host, snapshot("pack/Global/users", {"uid": "0"}))
    api.patch(f"/api/latest/fleet/queries/{users_query.pk}", {"description": "same sql"})
    assert users_query.report_rows.count() == 1
    api.patch(f"/api/latest/fleet/queries/{users_query.pk}", {"query": "SELECT uid FROM users"})
    assert users_query.report_rows.count() == 0
