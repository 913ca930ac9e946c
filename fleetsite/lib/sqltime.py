"""Timestamps formatted as RFC 3339 text by the database, for lists that return many rows.

Why: turning a DATETIME column into an aware `datetime` and back into text costs about 5 µs
per value in Python (the driver's parser, Django's `make_aware`, `isoformat`). A page of 100
hosts carries nine timestamps each, which made the conversions the largest cost of
`GET /hosts`. The database formats them in C for next to nothing.

The text matches `hosts.api.serializers.rfc3339`: `2026-11-23T10:00:00Z`, with `.ffffff`
only when the microseconds are not zero, as Python's `isoformat` writes it.
"""

from __future__ import annotations

from typing import Any

from django.db.models import CharField, Func, Value


class RFC3339(Func):
    """`RFC3339("seen_time")`: the column as RFC 3339 UTC text, NULL stays NULL."""

    output_field = CharField()
    arity = 1

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        # Django stores `YYYY-MM-DD HH:MM:SS[.ffffff]` in UTC: only the separator and zone change.
        return self.as_sql(compiler, connection, template="(REPLACE(%(expressions)s, ' ', 'T') || 'Z')", **extra)

    def as_mysql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        # Stored as UTC DATETIME(6). The formats travel as parameters, so their `%` need no escaping.
        column, params = compiler.compile(self.source_expressions[0])
        whole, fraction = (compiler.compile(Value(text)) for text in ("%Y-%m-%dT%H:%i:%sZ", "%Y-%m-%dT%H:%i:%s.%fZ"))
        sql = (
            f"(CASE WHEN MICROSECOND({column}) = 0 THEN DATE_FORMAT({column}, {whole[0]}) "
            f"ELSE DATE_FORMAT({column}, {fraction[0]}) END)"
        )
        return sql, [*params, *params, *whole[1], *params, *fraction[1]]

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        column, params = compiler.compile(self.source_expressions[0])
        utc = f"({column} AT TIME ZONE 'UTC')"
        sql = (
            f"(CASE WHEN DATE_TRUNC('second', {column}) = {column} "
            f'THEN TO_CHAR({utc}, \'YYYY-MM-DD"T"HH24:MI:SS"Z"\') '
            f'ELSE TO_CHAR({utc}, \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\') END)'
        )
        return sql, [*params, *params, *params, *params]
