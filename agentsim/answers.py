"""Turn a distributed/read response into the distributed/write body a real osqueryd would send.

The simulator cannot run SQL, so free-form queries are answered deterministically: rows of a modelled table
(filtered by a tiny WHERE evaluator when the clause is simple), ``[{"1": "1"}]`` for constant selects, and
otherwise a result for a stable, hash-chosen half of the hosts.
"""

from __future__ import annotations

import operator
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentsim.catalogue import MODELLED_TABLES, HostData

DETAIL_PREFIX = "fleet_detail_query_"
FAIL_MESSAGE = "no such table: fail_simulation"

_FAIL = re.compile(r"\bfail_simulation\b")
_FROM = re.compile(r"\b(from|join)\s+([a-z_][a-z0-9_]*)")
_LIMIT = re.compile(r"\blimit\s+(\d+)\s*;?\s*$")
_WHERE = re.compile(r"\bwhere\b(.*?)(?:\bgroup\s+by\b|\border\s+by\b|\blimit\b|\bhaving\b|;|$)", re.DOTALL)
_LIT = r"'(?:[^']|'')*'|-?\d+(?:\.\d+)?"
_COND = re.compile(
    r"\s*(?:[a-z_][a-z0-9_]*\.)?([a-z_][a-z0-9_]*)\s*"
    r"(==|=|!=|<>|>=|<=|>|<|not\s+like\b|like\b|not\s+in\b|in\b)\s*"
    rf"({_LIT}|\(\s*(?:{_LIT})(?:\s*,\s*(?:{_LIT}))*\s*\))\s*",
    re.DOTALL,
)
_JOIN_WORD = re.compile(r"(and|or)\b\s*", re.DOTALL)
_LITERALS = re.compile(_LIT)

_OPS = {
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
    "<>": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}

Row = dict[str, str]


@dataclass(slots=True)
class Answer:
    rows: list[Row] = field(default_factory=list)
    status: int = 0
    message: str = ""


def _literal(text: str) -> str:
    return text[1:-1].replace("''", "'") if text.startswith("'") else text


def _parse_where(clause: str) -> list[list[tuple[str, str, Any]]] | None:
    """Parse ``a = 'x' AND b IN (..) OR ...`` into OR-groups of AND-conditions; None if anything else."""
    groups: list[list[tuple[str, str, Any]]] = [[]]
    pos, clause = 0, clause.strip()
    while True:
        m = _COND.match(clause, pos)
        if not m:
            return None
        col, op, lit = m.group(1), " ".join(m.group(2).split()), m.group(3)
        value: Any = [_literal(x) for x in _LITERALS.findall(lit)] if lit.startswith("(") else _literal(lit)
        groups[-1].append((col, op, value))
        pos = m.end()
        if pos >= len(clause):
            return groups
        j = _JOIN_WORD.match(clause, pos)
        if not j:
            return None
        if j.group(1) == "or":
            groups.append([])
        pos = j.end()


def _like(value: str, pattern: str) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL | re.IGNORECASE) is not None


def _compare(actual: str, op: str, expected: Any) -> bool:
    if op in ("in", "not in"):
        return (actual.lower() in [e.lower() for e in expected]) == (op == "in")
    if op in ("like", "not like"):
        return _like(actual, expected) == (op == "like")
    try:
        return bool(_OPS[op](float(actual), float(expected)))
    except ValueError:
        return bool(_OPS[op](actual.lower(), str(expected).lower()))


def filter_rows(rows: list[Row], clause: str) -> list[Row]:
    """Apply a simple WHERE clause; anything we cannot evaluate safely leaves the rows unfiltered."""
    groups = _parse_where(clause)
    if groups is None or not rows:
        return rows
    if any(col not in rows[0] for group in groups for col, _, _ in group):
        return rows
    return [r for r in rows if any(all(_compare(r[c], op, v) for c, op, v in g) for g in groups)]


def half_of_hosts(host: HostData, sql: str) -> bool:
    """Stable per (host, query) coin flip so unknown queries match about half the fleet, reproducibly."""
    return zlib.crc32(f"{host.ident.hardware_uuid}|{sql}".encode()) % 2 == 0


def run_sql(sql: str, host: HostData) -> Answer:
    """Answer free-form SQL (labels, policies, live queries, scheduled queries) for one host."""
    low = sql.lower()
    if _FAIL.search(low):
        return Answer([], 1, FAIL_MESSAGE)
    refs = _FROM.findall(low)
    if not refs:
        return Answer([{"1": "1"}])  # constant select such as "SELECT 1"
    modelled = [t for _, t in refs if t in MODELLED_TABLES]
    if modelled:
        table = modelled[0]
        rows = host.table(table) or []
        single = len(refs) == 1 and refs[0][1] == table and low.count("select") == 1
        where = _WHERE.search(low) if single else None
        answer = filter_rows(rows, where.group(1)) if where else list(rows)
        limit = _LIMIT.search(low) if single else None
        return Answer(answer[: int(limit.group(1))] if limit else answer)
    return Answer([{"result": "1"}] if half_of_hosts(host, sql) else [])


def answer_query(name: str, sql: str, host: HostData) -> Answer:
    """Answer one distributed query by its Fleet name (detail queries are recognised by name, not SQL)."""
    if _FAIL.search(sql.lower()):
        return Answer([], 1, FAIL_MESSAGE)
    if name.startswith(DETAIL_PREFIX):
        rows = host.detail(name[len(DETAIL_PREFIX) :])
        return Answer(rows if rows is not None else [])
    return run_sql(sql, host)


def query_stats(rows: list[Row]) -> dict[str, int]:
    """Plausible per-query performance stats (osquery 5 sends them with every result)."""
    n = len(rows)
    return {"wall_time_ms": 1 + n // 4, "user_time": 1 + n // 8, "system_time": 1, "memory": 65536 + 512 * n}


def build_distributed_write(node_key: str, read: Mapping[str, Any], host: HostData) -> dict[str, Any] | None:
    """The distributed/write body for a distributed/read response, or None when nothing was asked."""
    queries = read.get("queries") if isinstance(read, Mapping) else None
    if not isinstance(queries, Mapping) or not queries:
        return None
    results: dict[str, list[Row]] = {}
    statuses: dict[str, int] = {}
    messages: dict[str, str] = {}
    stats: dict[str, dict[str, int]] = {}
    for name, sql in queries.items():
        ans = answer_query(str(name), sql if isinstance(sql, str) else "", host)
        results[name] = ans.rows
        statuses[name] = ans.status
        if ans.message:
            messages[name] = ans.message
        stats[name] = query_stats(ans.rows)
    return {"node_key": node_key, "queries": results, "statuses": statuses, "messages": messages, "stats": stats}
