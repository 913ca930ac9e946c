"""Query reports: the latest result rows per host of each saved query, built from osquery's result logs.

Results arrive named `pack/Global/<name>` or `pack/team-<id>/<name>` (fleet-protocol §1.2). A
snapshot replaces the host's rows for that query; a differential `added` appends a row and
`removed` deletes a matching one. Rows are capped per host and query by `report_max_rows` while
ingesting, and `enforce_retention` (a scheduled job) applies the row cap per query and the age
limit. Ingesting costs the same few SQL statements whatever the number of log lines.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, F, Q, QuerySet
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from accounts import permissions
from accounts.models import User
from fleetsite.lib import bounds, memo
from fleetsite.lib.flusher import BatchBuffer
from fleetsite.lib.rows import insert_many, json_values
from hosts.models import Host
from queries.models import Query, QueryReportRow

logger = logging.getLogger(__name__)

_MAP_KEY = "reports:queries:v1"
DELETE_CHUNK = 5000


@dataclass(frozen=True)
class ReportTarget:
    query_id: int
    discard_data: bool
    max_rows: int


def _load_map() -> dict[tuple[int, str], ReportTarget]:
    rows = Query.objects.filter(saved=True).values_list("id", "team_key", "name", "discard_data", "report_max_rows")
    return {(team_key, name): ReportTarget(pk, discard, max_rows) for pk, team_key, name, discard, max_rows in rows}


def report_targets() -> dict[tuple[int, str], ReportTarget]:
    """(team key, query name) → the query, cached so log requests do not read the query table."""
    return memo.cached(_MAP_KEY, _load_map)


@receiver([post_save, post_delete], sender=Query)
def _forget_targets(**_: object) -> None:
    memo.forget(_MAP_KEY)  # and again at commit (memo.forget does both)


def parse_name(name: Any) -> tuple[int, str] | None:
    """`pack/Global/<name>` → (0, name); `pack/team-<id>/<name>` → (id, name); anything else None."""
    if not isinstance(name, str) or not name.startswith("pack/"):
        return None
    pack, sep, query_name = name[5:].partition("/")
    if not sep or not query_name:
        return None
    if pack == "Global":
        return 0, query_name
    team_id = bounds.parse_id(pack[5:]) if pack.startswith("team-") else None
    if team_id is not None:
        return team_id, query_name
    return None


@dataclass
class _Plan:
    """What one log request does to one query's rows for one host."""

    target: ReportTarget
    replace: bool = False  # a snapshot came: the host's earlier rows go
    ops: list[tuple[str, dict]] = field(default_factory=list)  # ("added" | "removed", columns), in order

    @property
    def removes(self) -> bool:
        return any(action == "removed" for action, _ in self.ops)


def _plans(host: Host, entries: list[dict[str, Any]]) -> dict[int, _Plan]:
    targets = report_targets()
    plans: dict[int, _Plan] = {}
    allowed_teams = {0, host.team_id or 0}
    as_sent: bool | None = None  # asked once, when the first row for a report comes
    for entry in entries:
        key = parse_name(entry.get("name"))
        # A host only reports for the global pack and its own team's (a moved host may send stale names).
        if key is None or key[0] not in allowed_teams:
            continue
        target = targets.get(key)
        if target is None or target.discard_data:
            continue
        plan = plans.setdefault(target.query_id, _Plan(target))
        if as_sent is None:
            as_sent = _storable_as_sent(entries)
        action = entry.get("action")
        if action == "snapshot" or "snapshot" in entry:
            rows = entry.get("snapshot")
            plan.replace = True
            rows = rows if isinstance(rows, list) else []
            fitted = (_columns(host, row, as_sent) for row in rows)
            plan.ops = [("added", columns) for columns in fitted if columns is not None]
        elif action in ("added", "removed") and (columns := _columns(host, entry.get("columns"), as_sent)) is not None:
            plan.ops.append((action, columns))
    return plans


def _storable_as_sent(entries: list[dict[str, Any]]) -> bool:
    """Whether every row in the request can be stored as it came: serializable, and no NUL byte anywhere.

    One serialization of the whole request instead of fitting row by row: that fitting was the largest
    part of a log request's own work (docs/profiles/README.md). Otherwise each row is fitted alone.
    """
    try:
        return b"\\u0000" not in orjson.dumps(entries)
    except (orjson.JSONEncodeError, TypeError):
        return False


def _columns(host: Host, row: Any, as_sent: bool = False) -> dict[str, Any] | None:
    """A result row as it can be stored (no NUL bytes), or None for a row that is no object or too deep."""
    if not isinstance(row, dict):
        return None
    if as_sent:
        return row
    columns = bounds.fit(QueryReportRow, "data", row, owner=host.pk, unknown=None)
    return columns if isinstance(columns, dict) else None


def ingest_result_logs(host: Host, entries: list[dict[str, Any]]) -> None:
    """Store one `log` request's result entries as report rows; errors are logged, never raised to the agent.

    With `FLEETSITE_REPORT_FLUSH_INTERVAL` set, the rows wait in memory and a background thread
    writes every host's rows together (a few statements per batch instead of a transaction per
    request); at 0 they are written before the request answers.
    """
    try:
        plans = _plans(host, entries)
        if not plans:
            return
        if settings.FLEETSITE_REPORT_FLUSH_INTERVAL > 0:
            pending_rows.add(host.pk, _HostPlans(plans, timezone.now()))
        else:
            _apply({host.pk: _HostPlans(plans, timezone.now())})
    except DatabaseError:
        # The lines still go to the log destinations: report rows are a convenience, the log is the record.
        logger.exception("storing query report rows for host %s failed", host.pk)


@dataclass
class _HostPlans:
    """One host's pending plans per query id, and when its latest rows arrived."""

    plans: dict[int, _Plan]
    received: datetime


class PendingReportRows(BatchBuffer[int, _HostPlans]):
    """Report rows of many hosts' log requests, written together."""

    thread_name = "report-rows-flusher"

    def interval(self) -> float:
        return settings.FLEETSITE_REPORT_FLUSH_INTERVAL

    def merge(self, pending: _HostPlans | None, new: _HostPlans) -> _HostPlans:
        """A later snapshot replaces what is pending for its query; later differential rows follow the earlier ones."""
        if pending is None:
            return new
        for query_id, plan in new.plans.items():
            earlier = pending.plans.get(query_id)
            if earlier is None or plan.replace:
                pending.plans[query_id] = plan
            else:
                earlier.ops += plan.ops
        pending.received = new.received
        return pending

    def write_batch(self, pending: dict[int, _HostPlans]) -> int:
        # Hosts or queries deleted since their rows arrived have nothing left to report to.
        live_hosts = set(Host.objects.filter(pk__in=pending).order_by().values_list("pk", flat=True))
        query_ids = {query_id for host_plans in pending.values() for query_id in host_plans.plans}
        live_queries = set(Query.objects.filter(pk__in=query_ids).order_by().values_list("pk", flat=True))
        batch = {}
        for host_id, host_plans in pending.items():
            plans = {query_id: plan for query_id, plan in host_plans.plans.items() if query_id in live_queries}
            if host_id in live_hosts and plans:
                batch[host_id] = _HostPlans(plans, host_plans.received)
        if batch:
            _apply(batch)
        return len(batch)


pending_rows = PendingReportRows()


def _pairs_filter(pairs: dict[int, list[int]]) -> Q:
    """(host, query ids) pairs as one condition: per query, the hosts, as `query = q AND host IN (...)`.

    A flush holds many hosts and few queries. One term per host cost the ORM 0.17 ms a host to build
    and compile (250 ms for the 1,500 hosts of a busy flush, 40% of the log requests that sent them);
    one term per query costs microseconds a host.
    """
    hosts_by_query: dict[int, list[int]] = defaultdict(list)
    for host_id, query_ids in pairs.items():
        for query_id in query_ids:
            hosts_by_query[query_id].append(host_id)
    condition = Q(pk__in=[])
    for query_id, host_ids in hosts_by_query.items():
        condition |= Q(query_id=query_id, host_id__in=host_ids)
    return condition


def _apply(batch: dict[int, _HostPlans]) -> None:
    """Apply the plans of every host in `batch` with the same few statements, however many hosts."""
    load: dict[int, list[int]] = defaultdict(list)  # host → queries whose stored rows a "removed" must find
    count: dict[int, list[int]] = defaultdict(list)  # host → queries appended to under the row cap
    for host_id, host_plans in batch.items():
        for query_id, plan in host_plans.plans.items():
            if not plan.replace:
                (load if plan.removes else count)[host_id].append(query_id)
    existing: dict[tuple[int, int], list[list[Any]]] = defaultdict(list)  # (host, query) → [[row id, data, alive]]
    if load:
        for row_id, host_id, query_id, data in QueryReportRow.objects.filter(_pairs_filter(load)).values_list(
            "id", "host_id", "query_id", "data"
        ):
            existing[host_id, query_id].append([row_id, data, True])
    counts: dict[tuple[int, int], int] = {}
    if count:
        hosts = list(count)
        queries = {query_id for query_ids in count.values() for query_id in query_ids}
        grouped = (
            QueryReportRow.objects.filter(host_id__in=hosts, query_id__in=queries)
            .values("host_id", "query_id")
            .annotate(n=Count("id"))
            .values_list("host_id", "query_id", "n")
            .order_by()
        )
        counts = {(host_id, query_id): n for host_id, query_id, n in grouped}
    replaced: dict[int, list[int]] = defaultdict(list)
    dead: list[int] = []
    new_rows: list[tuple[int, int, dict, datetime]] = []
    for host_id, host_plans in batch.items():
        for query_id, plan in host_plans.plans.items():
            if plan.replace:
                replaced[host_id].append(query_id)
            rows = existing.get((host_id, query_id), [])
            stored = len(rows) if plan.removes else counts.get((host_id, query_id), 0)
            pending: list[dict] = []
            for action, columns in plan.ops:
                if action == "added":
                    if stored + len(pending) < plan.target.max_rows:
                        pending.append(columns)
                elif columns in pending:
                    pending.remove(columns)
                else:
                    match = next((row for row in rows if row[2] and row[1] == columns), None)
                    if match is not None:
                        match[2] = False
                        dead.append(match[0])
                        stored -= 1
            new_rows += [(query_id, host_id, data, host_plans.received) for data in pending]
    with transaction.atomic():
        if replaced or dead:
            QueryReportRow.objects.filter(_pairs_filter(replaced) | Q(pk__in=dead)).delete()
        if new_rows:
            _insert(new_rows)


def _insert(rows: list[tuple[int, int, dict, datetime]]) -> None:
    """All new rows in one statement, however many there are.

    MySQL takes any number of rows in one INSERT. SQLite allows 999 parameters per statement
    (Django's limit: 249 rows here), so there the rows travel as one JSON parameter.
    """
    if connection.vendor != "sqlite":
        # No instance per row: in a running server bulk_create's compiler cost more than the log
        # request that brought the rows (docs/profiles/README.md); mysqlclient folds the executemany
        # into multi-row INSERTs. A request's rows share one receive time, adapted once, not per row.
        times: dict[datetime, Any] = {}
        for received in {row[3] for row in rows}:
            times[received] = connection.ops.adapt_datetimefield_value(received)
        data = json_values([row[2] for row in rows])
        prepared = [
            (query_id, host_id, value, times[at]) for (query_id, host_id, _, at), value in zip(rows, data, strict=True)
        ]
        insert_many(QueryReportRow, ("query_id", "host_id", "data", "last_fetched"), prepared, prepared=True)
        return
    table = connection.ops.quote_name(QueryReportRow._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    values = [(query_id, host_id, data, adapt(received)) for query_id, host_id, data, received in rows]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (query_id, host_id, data, last_fetched) "
            "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), "
            "json_extract(value, '$[3]') FROM json_each(%s)",
            [orjson.dumps(values).decode()],
        )


def _delete_in_chunks(queryset: QuerySet) -> int:
    """Delete in slices so a big purge never holds long locks (MySQL) or one huge transaction."""
    total = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:DELETE_CHUNK])
        if not ids:
            return total
        total += QueryReportRow.objects.filter(pk__in=ids).delete()[0]


def enforce_retention(now: datetime | None = None) -> int:
    """Drop report rows older than each query's `report_max_age_days`, then the oldest beyond `report_max_rows`.

    Idempotent; returns the number of rows deleted. Schedule it every few minutes.
    """
    now = now or timezone.now()
    deleted = 0
    by_age: dict[int, list[int]] = defaultdict(list)
    for pk, days in Query.objects.filter(report_max_age_days__isnull=False).values_list("id", "report_max_age_days"):
        by_age[days].append(pk)
    for days, query_ids in by_age.items():
        old = QueryReportRow.objects.filter(query_id__in=query_ids, last_fetched__lt=now - timedelta(days=days))
        deleted += _delete_in_chunks(old.order_by())
    over = (
        Query.objects.annotate(rows=Count("report_rows"))
        .filter(rows__gt=F("report_max_rows"))
        .values_list("id", "report_max_rows")
    )
    for query_id, max_rows in over:
        rows = QueryReportRow.objects.filter(query_id=query_id)
        # The newest `max_rows` stay: find the first row to drop, then everything older than it.
        first_gone = rows.order_by("-last_fetched", "-id").values_list("last_fetched", "id")[max_rows : max_rows + 1]
        for fetched, row_id in first_gone:
            older = rows.filter(Q(last_fetched__lt=fetched) | Q(last_fetched=fetched, id__lte=row_id))
            deleted += _delete_in_chunks(older.order_by())
    return deleted


# --- Reading reports --------------------------------------------------------------------------


def report_rows(user: User, query: Query, host_id: int | None = None) -> QuerySet:
    """A query's rows from the hosts `user` may see (team users see only their teams' hosts)."""
    rows = QueryReportRow.objects.filter(query=query).select_related("host")
    rows = rows.only("id", "data", "last_fetched", "host_id", "host__hostname", "host__computer_name", "host__team_id")
    if host_id is not None:
        rows = rows.filter(host_id=host_id)
    return permissions.scope_to_teams(rows, user, "host__team_id").order_by("host_id", "id")


def is_clipped(query: Query) -> bool:
    """Fleet's `report_clipped`: the report hit its row cap, so some results are not kept."""
    return QueryReportRow.objects.filter(query=query).order_by()[query.report_max_rows - 1 :].exists()


def host_name(host: Host) -> str:
    return host.computer_name or host.hostname


def columns(data: Any) -> dict[str, Any]:
    return data if isinstance(data, dict) else {}
