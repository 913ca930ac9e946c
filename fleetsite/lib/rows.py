"""Insert many rows with one executemany, without a model instance per row.

bulk_create builds an instance per row and splits by the backend's parameter limit (166 rows a
statement on SQLite), so a check-in's cost grows with its row count; measured on a detail
write, instances and SQL compilation cost more than the INSERT itself. executemany is one call
that psycopg pipelines and SQLite loops in C; on MySQL the multi-row INSERTs are written here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache
from itertools import chain, islice
from typing import Any

import orjson
from django.db import connection, models
from django.db.models.constants import OnConflict

# Field types whose Python values the database driver takes as they are.
_PLAIN = (models.IntegerField, models.CharField, models.TextField, models.BooleanField, models.FloatField)


@cache
def _statement_parts(
    model: type[models.Model], names: tuple[str, ...], ignore_conflicts: bool, vendor: str
) -> tuple[str, str]:
    """`INSERT ... VALUES ` and what follows the rows (an ON CONFLICT clause, or nothing)."""
    meta = model._meta
    fields = [meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    prefix = "{} {} ({}) VALUES ".format(
        connection.ops.insert_statement(on_conflict=on_conflict),
        quote(meta.db_table),
        ", ".join(quote(field.column) for field in fields),
    )
    suffix = connection.ops.on_conflict_suffix_sql(fields, on_conflict, None, None) if ignore_conflicts else ""
    return prefix, f" {suffix}".rstrip()


@cache
def _statement(model: type[models.Model], names: tuple[str, ...], ignore_conflicts: bool, vendor: str) -> str:
    prefix, suffix = _statement_parts(model, names, ignore_conflicts, vendor)
    return f"{prefix}({', '.join(['%s'] * len(names))}){suffix}"


# One multi-row INSERT up to this many bytes: half of MariaDB's default max_allowed_packet (16 MB;
# MySQL 8's is 64 MB), so a host's whole software list is one statement, one round trip and one
# commit, where mysqlclient's own 1 MB limit made it five. A server configured with a smaller
# packet gets statements of half its own (asked once per connection, and only for a big INSERT).
_MYSQL_STATEMENT_BYTES = 8_000_000
# Statements up to this size go out without asking: under any server's max_allowed_packet.
_MYSQL_SMALL_STATEMENT = 1_000_000
_PACKET_ATTRIBUTE = "_fleetsite_statement_bytes"


def _mysql_statement_limit() -> int:
    """The largest INSERT to send on this connection: half its server's max_allowed_packet, at most 8 MB."""
    db = connection.connection
    limit = getattr(db, _PACKET_ATTRIBUTE, None)
    if limit is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT @@max_allowed_packet")
            packet = int(cursor.fetchone()[0])
        limit = max(_MYSQL_SMALL_STATEMENT, min(_MYSQL_STATEMENT_BYTES, packet // 2))
        setattr(db, _PACKET_ATTRIBUTE, limit)
    return limit


# What the driver's escaping changes in a string (mysql_real_escape_string); a column without any
# of these is quoted as it is, which is the same SQL.
_MYSQL_ESCAPED = ("\x00", "\n", "\r", "\x1a", "\\", "'", '"')
# Connection encodings whose bytes for other characters never include ASCII (so never a quote).
_ASCII_SAFE = frozenset(("utf8", "utf-8", "utf8mb4", "ascii"))


def _mysql_column(column: Sequence[Any], db: Any) -> list[bytes]:
    """Each value of one column as SQL, in order.

    A column of one type (the usual case) costs a few C calls, not a Python step per value: text
    with no character the driver would escape (NUL included) is quoted by joining the whole column
    with `'\\0'` and splitting the encoded result at the NULs. That is the driver's own SQL in a
    UTF-8 connection, where no multi-byte character can hide a quote or a backslash. Anything else
    goes value by value through the driver's C escaping or `literal`.
    """
    kinds = set(map(type, column))
    if kinds == {str}:
        text = "".join(column)
        if db.encoding in _ASCII_SAFE and not any(char in text for char in _MYSQL_ESCAPED):
            return ("'" + "'\x00'".join(column) + "'").encode(db.encoding).split(b"\x00")
    elif kinds == {int}:
        return "\x00".join(map(str, column)).encode().split(b"\x00")
    elif kinds == {bool}:
        return [b"1" if value else b"0" for value in column]
    string_literal, literal, encoding = db.string_literal, db.literal, db.encoding

    def value_sql(value: Any) -> bytes:
        kind = type(value)
        if kind is str:
            return string_literal(value.encode(encoding))
        if kind is int:
            return b"%d" % value
        if value is None:
            return b"NULL"
        return literal(value)

    return [value_sql(value) for value in column]


def _mysql_rows(columns: Sequence[Sequence[Any]]) -> list[bytes]:
    """Each row as `v1,v2,...` SQL (without its parentheses), from the values column by column."""
    db = connection.connection
    return list(map(b",".join, zip(*(_mysql_column(column, db) for column in columns), strict=True)))


def _mysql_insert(cursor: Any, prefix: str, suffix: str, columns: Sequence[Sequence[Any]]) -> list[tuple]:
    """Multi-row INSERTs of at most `_mysql_statement_limit()` bytes, the values written by `_mysql_rows`.

    mysqlclient's executemany formats each row through `%` with a literal per value, which cost a
    third of a detail write's CPU. Returns what the statements return (with a RETURNING suffix).
    """
    encoding = connection.connection.encoding
    head, tail = prefix.encode(encoding) + b"(", b")" + suffix.encode(encoding)
    rows = _mysql_rows(columns)
    returned: list[tuple] = []

    def send(parts: list[bytes]) -> None:
        cursor.execute(head + b"),(".join(parts) + tail)
        if cursor.description is not None:
            returned.extend(cursor.fetchall())

    fixed = len(head) + len(tail)
    total = fixed + sum(map(len, rows)) + 3 * len(rows)
    limit = _MYSQL_SMALL_STATEMENT if total <= _MYSQL_SMALL_STATEMENT else _mysql_statement_limit()
    if total <= limit:
        send(rows)
        return returned
    parts: list[bytes] = []
    size = fixed
    for sql in rows:
        if parts and size + len(sql) + 3 > limit:
            send(parts)
            parts, size = [], fixed
        parts.append(sql)
        size += len(sql) + 3
    send(parts)
    return returned


def insert_returning(
    model: type[models.Model], names: Sequence[str], rows: list[Sequence[Any]], returning: Sequence[str]
) -> list[tuple] | None:
    """INSERT `rows`, skipping conflicts, and return `returning` of the rows inserted (not the skipped ones).

    None where this is not done (the caller reads the rows back): so far MariaDB only, where the
    multi-row INSERTs are ours to write and take a RETURNING clause (10.5 and later).
    """
    if connection.vendor != "mysql" or not connection.features.can_return_rows_from_bulk_insert:
        return None
    if not rows:
        return []
    key = tuple(names)
    prefix, suffix = _statement_parts(model, key, True, connection.vendor)
    quote = connection.ops.quote_name
    clause = ", ".join(quote(model._meta.get_field(name).column) for name in returning)
    columns = _columns(rows, _converters(model, key, connection.vendor))
    with connection.cursor() as cursor:
        return _mysql_insert(cursor, prefix, f"{suffix} RETURNING {clause}", columns)


@cache
def _converters(model: type[models.Model], names: tuple[str, ...], vendor: str) -> tuple[Callable | None, ...]:
    """Per column, how a Python value becomes a database value, or None when it already is one."""
    converters: list[Callable | None] = []
    for name in names:
        field = model._meta.get_field(name)
        if isinstance(field, _PLAIN) or field.is_relation:
            converters.append(None)
        else:
            converters.append(
                lambda value, field=field: None if value is None else field.get_db_prep_save(value, connection)
            )
    return tuple(converters)


def _batches(rows: Iterable[Sequence[Any]], size: int | None) -> Iterator[list[Sequence[Any]]]:
    """`rows` in lists of at most `size` (all in one list without a size), read lazily."""
    if not size:
        yield list(rows)
        return
    rows = iter(rows)
    while batch := list(islice(rows, size)):
        yield batch


def _columns(rows: list[Sequence[Any]], convert: tuple[Callable | None, ...]) -> list[Sequence[Any]]:
    """The values of `rows` column by column, converted only in the columns that need it.

    Transposed a slice at a time: `zip(*rows)` makes an iterator per row, all alive at once, and
    30,000 of them outlive the young collections and set off full ones over the whole process.
    """
    columns: list[list[Any]] = [[] for _ in rows[0]] if rows else []
    for start in range(0, len(rows), _TRANSPOSE_SLICE):
        for column, values in zip(columns, zip(*rows[start : start + _TRANSPOSE_SLICE], strict=True), strict=True):
            column.extend(values)
    for index, fn in enumerate(convert):
        if fn is not None:
            columns[index] = [fn(value) for value in columns[index]]
    return columns


# Rows per slice of `_columns`: only that many iterators are alive at once.
_TRANSPOSE_SLICE = 1024


def insert_many(
    model: type[models.Model],
    names: Sequence[str],
    rows: Iterable[Sequence[Any]],
    ignore_conflicts: bool = False,
    *,
    prepared: bool = False,
    batch_size: int | None = None,
) -> None:
    """INSERT `rows` (values in the order of `names`, foreign keys as ids) into `model`'s table.

    `prepared`: the values are database values already (a timestamp adapted once for a million rows),
    so none is converted. `batch_size`: one executemany per that many rows, so a huge iterable is never
    held whole as parameter lists.
    """
    key = tuple(names)
    convert = () if prepared else _converters(model, key, connection.vendor)
    batches = _batches(rows, batch_size)
    first = next(batches, [])
    if not first:
        return
    vendor = connection.vendor
    statement = _statement(model, key, ignore_conflicts, vendor)
    with connection.cursor() as cursor:
        for batch in chain([first], batches):
            if vendor == "mysql":
                columns = _columns(batch, convert)
                _mysql_insert(cursor, *_statement_parts(model, key, ignore_conflicts, vendor), columns)
            else:
                values = list(zip(*_columns(batch, convert), strict=True)) if any(convert) else batch
                cursor.executemany(statement, values)


def json_value(value: Any) -> Any:
    """`value` as a prepared JSON column parameter, written by orjson.

    Django writes JSON with the json module, which cost a tenth of a live-query answer's CPU for
    its rows; orjson writes the same JSON several times faster. What orjson refuses (keys that are
    not strings, integers beyond 64 bits) goes the way Django would have written it.
    """
    return _json_value(value, connection.vendor == "postgresql")


def json_values(values: Iterable[Any]) -> list[Any]:
    """`json_value` of each value, the connection asked once: through its thread-local proxy that
    cost 5 µs a row, a third of a report flush's own work."""
    postgresql = connection.vendor == "postgresql"
    return [_json_value(value, postgresql) for value in values]


def _json_value(value: Any, postgresql: bool) -> Any:
    try:
        text = orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        return connection.ops.adapt_json_value(value, None)
    return _json_text(text, postgresql)


def json_text_value(text: bytes) -> Any:
    """JSON text written already (by orjson), as a prepared JSON column parameter: not encoded again."""
    return _json_text(text, connection.vendor == "postgresql")


def json_text_values(texts: Iterable[bytes]) -> list[Any]:
    """`json_text_value` of each text, the connection asked once (a live-query answer has hundreds of rows)."""
    postgresql = connection.vendor == "postgresql"
    return [_json_text(text, postgresql) for text in texts]


def _json_text(text: bytes, postgresql: bool) -> Any:
    if postgresql:
        from psycopg.types.json import Jsonb

        return Jsonb(text, dumps=_unchanged)
    return text.decode()


def _unchanged(text: bytes) -> bytes:
    return text


@cache
def _update_statement(model: type[models.Model], names: tuple[str, ...], vendor: str) -> str:
    meta = model._meta
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(meta.get_field(name).column)} = %s" for name in names)
    return f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"


def update_one(model: type[models.Model], pk: Any, values: dict[str, Any]) -> None:
    """UPDATE one row's columns by primary key, with SQL built once per set of column names.

    An agent's detail write updates its host row every time; compiling that UPDATE through the
    ORM cost more than running it. No signals are sent, as with `QuerySet.update()`.
    """
    if not values:
        return
    names = tuple(values)
    convert = _converters(model, names, connection.vendor)
    params = [value if fn is None else fn(value) for fn, value in zip(convert, values.values(), strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(_update_statement(model, names, connection.vendor), [*params, pk])


@cache
def _where_statement(
    model: type[models.Model], verb: str, names: tuple[str, ...], keys: tuple[str, ...], vendor: str
) -> str:
    meta = model._meta
    quote = connection.ops.quote_name
    where = " AND ".join(f"{quote(meta.get_field(key).column)} = %s" for key in keys)
    if verb == "DELETE":
        return f"DELETE FROM {quote(meta.db_table)} WHERE {where}"
    columns = ", ".join(quote(meta.get_field(name).column) for name in names)
    return f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {where}"


def _in_clause(model: type[models.Model], name: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """` AND column IN (...)`: integers written into the SQL (quoting each as a parameter costs more)."""
    column = connection.ops.quote_name(model._meta.get_field(name).column)
    if all(type(value) is int for value in values):
        return f" AND {column} IN ({', '.join(map(str, values))})", []
    return f" AND {column} IN ({', '.join(['%s'] * len(values))})", list(values)


def select_where(model: type[models.Model], names: Sequence[str], where: dict[str, Any]) -> list[tuple]:
    """The values of `names` of the rows whose columns equal `where`, with SQL built once per shape.

    Database values as the driver returns them: for ids, keys and text, not for dates.
    """
    statement = _where_statement(model, "SELECT", tuple(names), tuple(where), connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(statement, list(where.values()))
        return [tuple(row) for row in cursor.fetchall()]


# Values per DELETE ... IN (...): SQLite's parameter limit is 32,766, and a statement stays small.
_DELETE_CHUNK = 5000


def delete_where(model: type[models.Model], where: dict[str, Any], name: str = "", values: Sequence[Any] = ()) -> None:
    """DELETE the rows whose columns equal `where` (and, with `name`, whose `name` is in `values`).

    Only for tables no other table points at: nothing cascades and no signal is sent.
    """
    statement = _where_statement(model, "DELETE", (), tuple(where), connection.vendor)
    with connection.cursor() as cursor:
        if not name:
            cursor.execute(statement, list(where.values()))
            return
        values = list(values)
        for start in range(0, len(values), _DELETE_CHUNK):
            clause, params = _in_clause(model, name, values[start : start + _DELETE_CHUNK])
            cursor.execute(statement + clause, [*where.values(), *params])


def replace_rows_of(
    model: type[models.Model],
    key: str,
    owner: Any,
    names: Sequence[str],
    rows: list[tuple],
    *,
    stored_empty: bool = False,
) -> bool:
    """Make `owner`'s rows of `model` (those whose `key` column is `owner`) exactly `rows`, if they differ.

    `rows` hold the values of `names` (database values, without the key). A host reports the same
    users or e-mails check-in after check-in: one SELECT then, instead of a DELETE and an INSERT.
    `stored_empty`: the caller knows `owner` has no rows, so none are read or deleted.
    Only for tables no other table points at (the DELETE sends no signals and cascades nothing).
    Returns whether anything was written.
    """
    if not stored_empty:
        stored = sorted(select_where(model, names, {key: owner}))
        if stored == sorted(rows):
            return False
        if stored:
            delete_where(model, {key: owner})
    elif not rows:
        return False
    insert_many(model, (key, *names), [(owner, *row) for row in rows])
    return True
