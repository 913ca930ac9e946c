"""Scheduled queries from a Fleet config become correctly named result-log entries."""

from __future__ import annotations

from agentsim.catalogue import HostData
from agentsim.identity import make_identity
from agentsim.logs import (
    ScheduledQuery,
    periodic_status,
    scheduled_queries,
    snapshot_entry,
    startup_status,
)

CONFIG = {
    "options": {"distributed_interval": 10, "logger_tls_period": 10},
    "decorators": {"load": ["SELECT uuid AS host_uuid FROM system_info;"]},
    "packs": {
        "Global": {
            "queries": {
                "uptime": {"query": "SELECT * FROM uptime", "interval": 60, "snapshot": True},
                "Users list": {"query": "SELECT * FROM users", "interval": "300", "removed": False},
                "mac only": {"query": "SELECT * FROM apps", "interval": 60, "platform": "darwin"},
                "disabled": {"query": "SELECT 1", "interval": 0},
            }
        },
        "team-3": {"queries": {"procs": {"query": "SELECT * FROM processes", "interval": 120, "snapshot": True}}},
        "windows-pack": {"platform": "windows", "queries": {"w": {"query": "SELECT 1", "interval": 10}}},
    },
}


def test_names_from_packs() -> None:
    specs = {s.name: s for s in scheduled_queries(CONFIG, "linux")}
    assert set(specs) == {"pack/Global/uptime", "pack/Global/Users list", "pack/team-3/procs"}
    assert specs["pack/Global/uptime"].snapshot and specs["pack/Global/uptime"].interval == 60
    assert not specs["pack/Global/Users list"].snapshot and specs["pack/Global/Users list"].interval == 300
    mac = {s.name for s in scheduled_queries(CONFIG, "darwin")}
    assert "pack/Global/mac only" in mac and "pack/windows-pack/w" not in mac
    assert "pack/windows-pack/w" in {s.name for s in scheduled_queries(CONFIG, "windows")}


def test_pack_delimiter_and_schedule() -> None:
    cfg = {
        "options": {"pack_delimiter": "_"},
        "packs": {"Global": CONFIG["packs"]["Global"]},
        "schedule": {"plain": {"query": "SELECT 1", "interval": 5}},
    }
    names = {s.name for s in scheduled_queries(cfg, "linux")}
    assert names == {"pack_Global_uptime", "pack_Global_Users list", "plain"}


def test_garbage_config_is_tolerated() -> None:
    assert scheduled_queries({"packs": "nope"}, "linux") == []
    assert scheduled_queries({"packs": {"Global": {"queries": {"x": "SELECT 1"}}}}, "linux") == []


def test_snapshot_entries() -> None:
    host = HostData(make_identity(0, "linux", 1))
    spec = {s.name: s for s in scheduled_queries(CONFIG, "linux")}["pack/Global/uptime"]
    query = ScheduledQuery(spec, next_run=0)
    assert query.due(0)
    entries = query.run(host, ts=1_700_000_000.0, now=0)
    assert not query.due(1) and query.due(60)
    assert len(entries) == 1
    entry = entries[0]
    assert entry["name"] == "pack/Global/uptime"
    assert entry["action"] == "snapshot" and entry["snapshot"][0]["total_seconds"].isdigit()
    assert entry["hostIdentifier"] == host.ident.hardware_uuid
    assert entry["unixTime"] == 1_700_000_000 and entry["calendarTime"] == "Tue Nov 14 22:13:20 2023 UTC"
    assert (entry["epoch"], entry["counter"], entry["numerics"]) == (0, 0, False)
    assert entry["decorations"] == {"host_uuid": host.ident.hardware_uuid, "hostname": host.ident.hostname}
    assert entry == snapshot_entry("pack/Global/uptime", entry["snapshot"], host, 1_700_000_000.0)


def test_differential_entries() -> None:
    host = HostData(make_identity(0, "linux", 1))
    spec = {s.name: s for s in scheduled_queries(CONFIG, "linux")}["pack/Global/Users list"]
    query = ScheduledQuery(spec, next_run=0)
    first = query.run(host, ts=1.0, now=0)
    assert len(first) == len(host.users())
    assert all(e["action"] == "added" and e["name"] == "pack/Global/Users list" and "columns" in e for e in first)
    assert query.run(host, ts=2.0, now=300) == []  # nothing changed
    uptime = ScheduledQuery(spec.__class__("pack/Global/up", "SELECT * FROM uptime", 10, False), next_run=0)
    uptime.run(host, ts=1.0, now=0)
    host.started -= 10
    changed = uptime.run(host, ts=2.0, now=10)
    assert [e["action"] for e in changed] == ["removed", "added"]
    assert changed[0]["counter"] == 1


def test_status_entries_are_strings() -> None:
    host = HostData(make_identity(0, "darwin", 1))
    entries = startup_status(host, 1_700_000_000.0) + periodic_status(host, 1_700_000_000.0, {})
    keys = {
        "hostIdentifier",
        "calendarTime",
        "unixTime",
        "severity",
        "filename",
        "line",
        "message",
        "version",
        "decorations",
    }
    for e in entries:
        assert set(e) == keys
        assert all(isinstance(e[k], str) for k in keys - {"decorations"})
