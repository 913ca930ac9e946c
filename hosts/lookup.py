"""Finding the host behind an agent key with one pre-compiled query.

Compiling the ORM query took more CPU than the rest of an idle check-in, so the SQL is built
once per column and database alias and reused through `raw()`, which still applies Django's
type converters. Only the columns check-ins read are loaded; the rest stay deferred.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections

from hosts.models import Host

CHECKIN_FIELDS = (
    "id", "team_id", "platform", "hostname", "computer_name", "refetch_requested", "refetch_critical_queries_until",
    "detail_updated_at", "label_updated_at", "policy_updated_at", "distributed_interval", "config_tls_refresh",
    "logger_tls_period", "seen_time", "online_until", "last_restarted_at",
)  # fmt: skip

KEY_COLUMNS = ("node_key_digest", "orbit_node_key_digest")

_compiled: dict[tuple[str, str, str], str] = {}


def _sql(column: str, alias: str) -> str:
    key = (column, alias, connections[alias].vendor)
    sql = _compiled.get(key)
    if sql is None:
        queryset = Host.objects.using(alias).filter(**{column: "placeholder"}).only(*CHECKIN_FIELDS)
        sql, _ = queryset.query.sql_with_params()
        _compiled[key] = sql
    return sql


def host_by_key(column: str, key_digest: str, alias: str = DEFAULT_DB_ALIAS) -> Host | None:
    """The host whose `column` (a key digest column) equals `key_digest`, with check-in fields loaded."""
    if column not in KEY_COLUMNS:
        raise ValueError(f"not a key column: {column}")
    return next(iter(Host.objects.raw(_sql(column, alias), [key_digest])), None)
