"""Which queries a host is sent on `distributed/read`, and how their answers are applied.

fleet-protocol §1.4 and §1.5. Live-query campaigns and policies add their own queries through
`queries`; this module owns detail and label queries.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from fleetsite.lib import bounds
from hosts import detail_queries, digests, labels
from hosts.constants import DETAIL_QUERY_PREFIX, LABEL_QUERY_PREFIX
from hosts.digests import SECTIONS
from hosts.ingest import INGESTERS, HostUpdate
from hosts.models import Host

logger = logging.getLogger(__name__)


def jitter(host_id: int, interval_seconds: int) -> timedelta:
    """A stable per-host delay of up to max_jitter_percent of the interval, in whole minutes.

    It spreads hourly refreshes of hosts that enrolled together (§1.9).
    """
    max_minutes = int(interval_seconds * settings.FLEETSITE_MAX_JITTER_PERCENT / 100 // 60)
    if max_minutes <= 0:
        return timedelta(0)
    return timedelta(minutes=zlib.crc32(str(host_id).encode()) % (max_minutes + 1))


def _due(host: Host, last: datetime, interval_seconds: int, now: datetime) -> bool:
    return host.refetch_requested or last < now - timedelta(seconds=interval_seconds) - jitter(
        host.pk, interval_seconds
    )


@dataclass
class PendingQueries:
    """The body of a distributed/read answer."""

    queries: dict[str, str] = field(default_factory=dict)
    discovery: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, sql: str, discovery: str = "SELECT 1;") -> None:
        if sql.strip():  # §1.4: an empty query would put osquery in a check-in loop
            self.queries[name] = sql
            self.discovery[name] = discovery


def host_queries(host: Host, now: datetime, features: dict) -> PendingQueries:
    """Detail and label queries that are due for `host`."""
    pending = PendingQueries()
    if host.refetch_critical_queries_until and host.refetch_critical_queries_until > now:
        return pending  # only MDM critical queries would go out, and Fleetsite has none
    if _due(host, host.detail_updated_at, settings.FLEETSITE_DETAIL_UPDATE_INTERVAL, now):
        for query in detail_queries.queries_for(host.platform, features):
            pending.add(DETAIL_QUERY_PREFIX + query.name, query.sql, query.discovery)
    if _due(host, host.label_updated_at, settings.FLEETSITE_LABEL_UPDATE_INTERVAL, now):
        for label in labels.dynamic_labels():
            if label.applies_to(host.platform, host.team_id):
                pending.add(f"{LABEL_QUERY_PREFIX}{label.id}", label.query)
    return pending


@dataclass
class WriteResults:
    """A distributed/write body, already validated, split by what each answer is for."""

    rows: dict[str, list[dict[str, Any]]]
    failed: set[str]
    messages: dict[str, str]
    stats: dict[str, Any]


def _unchanged_sections(
    host: Host, answered: list[detail_queries.DetailQuery], results: WriteResults, update: HostUpdate
) -> set[str]:
    """The side-table sections whose rows are those the host stored last time; notes the others' digests."""
    parts: dict[str, list[tuple[str, list[dict[str, Any]]]]] = {}
    for query in answered:
        if query.ingester in SECTIONS:
            parts.setdefault(query.ingester, []).append((query.name, results.rows[DETAIL_QUERY_PREFIX + query.name]))
    if not parts:
        return set()
    update.stored_digests = digests.stored(host)
    unchanged = set()
    for section, section_parts in parts.items():
        digest = digests.of_rows(section_parts)
        if digest is None:
            update.digests[section] = ""
        elif digest == update.stored_digests.get(section):
            unchanged.add(section)
        else:
            update.digests[section] = digest
    return unchanged


def collect_host_results(host: Host, results: WriteResults, now: datetime, client_ip: str) -> HostUpdate:
    """Turn detail and label answers into one HostUpdate, without writing anything yet."""
    update = HostUpdate()
    context = {"client_ip": client_ip, "now": now}
    got_details = False
    got_labels = False
    answered = [
        query
        for query in detail_queries.DETAIL_QUERIES  # fixed order: os_version before os_version_windows
        if DETAIL_QUERY_PREFIX + query.name in results.rows and DETAIL_QUERY_PREFIX + query.name not in results.failed
    ]
    unchanged = _unchanged_sections(host, answered, results, update)
    for query in answered:
        if query.ingester in unchanged:
            continue
        name = DETAIL_QUERY_PREFIX + query.name
        try:
            INGESTERS[query.ingester](host, results.rows[name], update, context)
        except Exception:  # §1.5: ingestion errors are logged; the check-in still succeeds
            logger.exception("ingesting %s for host %s failed", name, host.pk)
            if query.ingester in SECTIONS:
                update.digests[query.ingester] = ""  # another query of the section may still write it
            continue
        got_details = got_details or not query.side_table
    for name in results.rows:
        if name.startswith(LABEL_QUERY_PREFIX):
            got_labels = True
            label_id = bounds.parse_id(name[len(LABEL_QUERY_PREFIX) :])
            if label_id is None:
                continue
            # As in Fleet, a failed label query takes the host out of the label.
            is_member = bool(results.rows[name]) and name not in results.failed
            (update.member_of if is_member else update.not_member_of).add(label_id)
        elif name.startswith(DETAIL_QUERY_PREFIX) and name[len(DETAIL_QUERY_PREFIX) :] not in detail_queries.BY_NAME:
            logger.info("unknown detail query %s from host %s", name, host.pk)
    if got_details:
        update.set(detail_updated_at=now)
    if got_labels:
        update.set(label_updated_at=now)
    if host.refetch_requested:
        update.set(refetch_requested=False)
    return update
