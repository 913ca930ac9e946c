"""osquery's scheduler and TLS logger: which packed queries run when, and the log entries they produce."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentsim.answers import Row, run_sql
from agentsim.catalogue import OSQUERY_VERSION, HostData


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """A scheduled query as configured: ``name`` is the name osquery logs it under."""

    name: str
    sql: str
    interval: int
    snapshot: bool


def _platform_ok(value: Any, platform: str) -> bool:
    if not value or not isinstance(value, str):
        return True
    wanted = {p.strip().lower() for p in value.split(",") if p.strip()}
    if not wanted or wanted & {"all", "any", platform}:
        return True
    return "posix" in wanted and platform in ("linux", "darwin")


def _interval(value: Any) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


def scheduled_queries(config: Mapping[str, Any], platform: str) -> list[QuerySpec]:
    """Flatten ``packs`` (and a top-level ``schedule``) into the queries this host would run.

    Packed queries are logged as ``pack<delim><pack name><delim><query name>`` (delimiter from
    ``options.pack_delimiter``, default ``/``), e.g. ``pack/Global/uptime`` or ``pack/team-3/users``.
    """
    options = config.get("options")
    delim = "/"
    if isinstance(options, Mapping) and isinstance(options.get("pack_delimiter"), str) and options["pack_delimiter"]:
        delim = options["pack_delimiter"]
    sources: list[tuple[str | None, Mapping[str, Any], Any]] = []
    packs = config.get("packs")
    if isinstance(packs, Mapping):
        for pack_name, pack in packs.items():
            if isinstance(pack, Mapping) and isinstance(pack.get("queries"), Mapping):
                sources.append((str(pack_name), pack["queries"], pack.get("platform")))
    if isinstance(config.get("schedule"), Mapping):
        sources.append((None, config["schedule"], None))
    specs = []
    for pack_name, queries, pack_platform in sources:
        if not _platform_ok(pack_platform, platform):
            continue
        for qname, entry in queries.items():
            if not isinstance(entry, Mapping) or not isinstance(entry.get("query"), str):
                continue
            interval = _interval(entry.get("interval"))
            if interval <= 0 or not _platform_ok(entry.get("platform"), platform):
                continue
            name = str(qname) if pack_name is None else f"pack{delim}{pack_name}{delim}{qname}"
            specs.append(QuerySpec(name, entry["query"], interval, bool(entry.get("snapshot"))))
    return specs


def calendar_time(ts: float) -> str:
    """osquery's calendarTime format, e.g. ``Mon Mar 25 10:01:02 2024 UTC``."""
    return time.strftime("%a %b %d %H:%M:%S %Y UTC", time.gmtime(ts))


def decorations(host: HostData) -> dict[str, str]:
    return {"host_uuid": host.ident.hardware_uuid, "hostname": host.ident.hostname}


def _result_base(name: str, host: HostData, ts: float, counter: int) -> dict[str, Any]:
    return {
        "name": name,
        "hostIdentifier": host.ident.hardware_uuid,
        "calendarTime": calendar_time(ts),
        "unixTime": int(ts),
        "epoch": 0,
        "counter": counter,
        "numerics": False,
        "decorations": decorations(host),
    }


def snapshot_entry(name: str, rows: list[Row], host: HostData, ts: float) -> dict[str, Any]:
    entry = _result_base(name, host, ts, 0)
    entry["snapshot"] = rows
    entry["action"] = "snapshot"
    return entry


def differential_entries(
    name: str, added: list[Row], removed: list[Row], host: HostData, ts: float, counter: int
) -> list[dict[str, Any]]:
    """One entry per changed row (osquery's default, non-batched differential format)."""
    out = []
    for action, rows in (("removed", removed), ("added", added)):
        for row in rows:
            entry = _result_base(name, host, ts, counter)
            entry["columns"] = row
            entry["action"] = action
            out.append(entry)
    return out


def _key(row: Row) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(row.items()))


class ScheduledQuery:
    """Run state of one scheduled query on one host (next run time, differential memory)."""

    __slots__ = ("counter", "next_run", "previous", "spec")

    def __init__(self, spec: QuerySpec, next_run: float) -> None:
        self.spec = spec
        self.next_run = next_run
        self.counter = 0
        self.previous: list[Row] | None = None  # differential only; shares row dicts, so it is cheap

    def due(self, now: float) -> bool:
        return now >= self.next_run

    def run(self, host: HostData, ts: float, now: float) -> list[dict[str, Any]]:
        """Execute (simulated) and return the result log entries to send; advances the schedule."""
        self.next_run = max(self.next_run + self.spec.interval, now + 0.5 * self.spec.interval)
        ans = run_sql(self.spec.sql, host)
        if ans.status != 0:
            return []
        if self.spec.snapshot:
            return [snapshot_entry(self.spec.name, ans.rows, host, ts)]
        if self.previous is None:
            added, removed = ans.rows, []
        else:
            old = {_key(r) for r in self.previous}
            new = {_key(r) for r in ans.rows}
            added = [r for r in ans.rows if _key(r) not in old]
            removed = [r for r in self.previous if _key(r) not in new]
        self.previous = ans.rows
        entries = differential_entries(self.spec.name, added, removed, host, ts, self.counter)
        self.counter += 1
        return entries


def status_entry(host: HostData, ts: float, filename: str, line: int, message: str, severity: int = 0) -> dict:
    """One status-log entry; osquery sends the numeric fields of status logs as strings."""
    return {
        "hostIdentifier": host.ident.hardware_uuid,
        "calendarTime": calendar_time(ts),
        "unixTime": str(int(ts)),
        "severity": str(severity),
        "filename": filename,
        "line": str(line),
        "message": message,
        "version": OSQUERY_VERSION,
        "decorations": decorations(host),
    }


def startup_status(host: HostData, ts: float) -> list[dict]:
    """What osqueryd logs right after it starts and enrolls."""
    return [
        status_entry(host, ts, "init.cpp", 421, f"osquery initialized [version={OSQUERY_VERSION}]"),
        status_entry(host, ts, "extensions.cpp", 367, "Extension manager service starting: /opt/orbit/osquery.em"),
        status_entry(
            host,
            ts,
            "events.cpp",
            875,
            "Event publisher not enabled: BPFEventPublisher: Publisher disabled via configuration",
            severity=1,
        ),
    ]


def periodic_status(host: HostData, ts: float, schedule: Mapping[str, ScheduledQuery]) -> list[dict]:
    """A light trickle of status logs, as a healthy osqueryd produces every few minutes."""
    if schedule:
        q = next(iter(schedule.values())).spec
        return [status_entry(host, ts, "scheduler.cpp", 102, f"Executing scheduled query {q.name}: {q.sql}")]
    return [status_entry(host, ts, "config.cpp", 918, "Config refresh: no scheduled queries")]
