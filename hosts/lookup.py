"""Finding the host behind an agent key with one pre-compiled query.

Compiling the ORM query took more CPU than the rest of an idle check-in, so the SQL and Django's
type converters for its columns are prepared once per column and database alias, and each
check-in runs one cursor query and builds the instance with `Model.from_db`. Only the columns
check-ins read are loaded; the rest stay deferred.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

from hosts.models import Host

CHECKIN_FIELDS = (
    "id", "team_id", "platform", "hostname", "computer_name", "refetch_requested", "refetch_critical_queries_until",
    "detail_updated_at", "label_updated_at", "policy_updated_at", "distributed_interval", "config_tls_refresh",
    "logger_tls_period", "seen_time", "online_until", "last_restarted_at",
)  # fmt: skip

KEY_COLUMNS = ("node_key_digest", "orbit_node_key_digest")


@dataclass(frozen=True)
class _Prepared:
    sql: str
    attnames: list[str]
    converters: dict[int, tuple[list[Any], Any]]


_prepared: dict[tuple[str, str, str], _Prepared] = {}


def _prepare(column: str, alias: str) -> _Prepared:
    """The SQL, the selected columns (in model order) and Django's type converters for them."""
    key = (column, alias, connections[alias].vendor)
    prepared = _prepared.get(key)
    if prepared is None:
        queryset = Host.objects.using(alias).filter(**{column: "placeholder"}).only(*CHECKIN_FIELDS)
        compiler = queryset.query.get_compiler(alias)
        sql, _ = compiler.as_sql()
        expressions = [expression for expression, _, _ in compiler.select]
        prepared = _Prepared(
            sql=sql,
            attnames=[expression.target.attname for expression in expressions],
            converters=compiler.get_converters(expressions),
        )
        _prepared[key] = prepared
    return prepared


def host_by_key(column: str, key_digest: str, alias: str = DEFAULT_DB_ALIAS) -> Host | None:
    """The host whose `column` (a key digest column) equals `key_digest`, with check-in fields loaded."""
    if column not in KEY_COLUMNS:
        raise ValueError(f"not a key column: {column}")
    prepared = _prepare(column, alias)
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(prepared.sql, [key_digest])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, (functions, expression) in prepared.converters.items():
        for function in functions:
            values[index] = function(values[index], expression, connection)
    return Host.from_db(alias, prepared.attnames, values)
