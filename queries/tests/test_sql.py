"""SQL validation: SQLite's grammar decides syntax, only reads pass, errors carry the position."""

from __future__ import annotations

import pytest

from queries.sql import SQLError, validate_read_only

READS = [
    "SELECT 1",
    "select * from processes where name = 'osqueryd';",
    "SELECT * FROM users JOIN groups USING (gid)",
    "SELECT * FROM users WHERE username LIKE 'a\\_%' ESCAPE '\\'",
    "SELECT `uid` FROM `users`",
    'SELECT "uid", [gid] FROM users',
    "WITH x AS (SELECT 1) SELECT * FROM x",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c",
    "SELECT 1 UNION SELECT 2 INTERSECT SELECT 2 EXCEPT SELECT 3",
    "SELECT 1; SELECT 2;",
    "VALUES (1), (2)",
    "SELECT x->>'$.a' FROM t",
    "SELECT count(*) FILTER (WHERE pid > 1) FROM processes",
    "SELECT row_number() OVER (PARTITION BY uid ORDER BY pid) FROM processes",
    "SELECT * FROM file WHERE path LIKE '/etc/%%' AND path NOT GLOB '*.bak'",
    "SELECT name FROM processes WHERE name REGEXP '^osq' LIMIT 5 OFFSET 1",
    "-- a comment\nSELECT 1 /* another */",
    "SELECT * FROM t WHERE a = ?",
    "SELECT * FROM nosuchtable WHERE nosuchfunc(x)",
]


@pytest.mark.parametrize("sql", READS)
def test_reads_pass(sql: str) -> None:
    validate_read_only(sql)


@pytest.mark.parametrize(
    ("sql", "verb", "line", "col"),
    [
        ("INSERT INTO t VALUES (1)", "INSERT", 1, 1),
        ("update t set a = 1", "UPDATE", 1, 1),
        ("DELETE FROM t", "DELETE", 1, 1),
        ("REPLACE INTO t VALUES (1)", "REPLACE", 1, 1),
        ("CREATE TABLE t (a)", "CREATE", 1, 1),
        ("CREATE TEMP VIEW v AS SELECT 1", "CREATE", 1, 1),
        ("DROP TABLE t", "DROP", 1, 1),
        ("ATTACH DATABASE '/tmp/x' AS y", "ATTACH", 1, 1),
        ("DETACH DATABASE y", "DETACH", 1, 1),
        ("PRAGMA journal_mode = WAL", "PRAGMA", 1, 1),
        ("PRAGMA table_info(users)", "PRAGMA", 1, 1),
        ("VACUUM", "VACUUM", 1, 1),
        ("EXPLAIN SELECT 1", "EXPLAIN", 1, 1),
        ("BEGIN", "BEGIN", 1, 1),
        ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", "INSERT", 1, 22),
        ("SELECT 1;\n  DELETE FROM t", "DELETE", 2, 3),
    ],
)
def test_writes_are_refused_with_the_statement_position(sql: str, verb: str, line: int, col: int) -> None:
    with pytest.raises(SQLError) as caught:
        validate_read_only(sql)
    assert caught.value.message == f"only read statements (SELECT) are allowed, not {verb}"
    assert (caught.value.line, caught.value.col) == (line, col)
    assert f"(line {line}, column {col})" in str(caught.value)


@pytest.mark.parametrize(
    ("sql", "message", "line", "col"),
    [
        ("SELEC 1", 'syntax error near "SELEC"', 1, 1),
        ("SELECT FROM t", 'syntax error near "FROM"', 1, 8),
        ("SELECT * users", 'syntax error near "users"', 1, 10),
        ("SELECT 1 FROM t t2 t3", 'syntax error near "t3"', 1, 20),
        ("SELECT 1;\nSELECT * FROM\nusers WHERE x = = 1", 'syntax error near "="', 3, 17),
        ("SELECT * FROM", "syntax error: incomplete input", 1, 14),
        ("SELECT * FROM t WHERE (a = 1", "syntax error: incomplete input", 1, 29),
        ("SELECT x::int FROM t", 'syntax error: unrecognized token: ":"', 1, 9),
        ("SELECT 1,\n  'abc", 'syntax error: unrecognized token: "\'abc"', 2, 3),
        ("SELECT 1 /* open", 'syntax error: unrecognized token: "/* open"', 1, 10),
        ("SELECT TOP 5 * FROM t", 'syntax error near "5"', 1, 12),
        # SQLite refuses writes inside a CTE: a syntax error before it could be a write.
        ("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", 'syntax error near "DELETE"', 1, 12),
    ],
)
def test_syntax_errors_carry_line_and_column(sql: str, message: str, line: int, col: int) -> None:
    with pytest.raises(SQLError) as caught:
        validate_read_only(sql)
    assert (caught.value.message, caught.value.line, caught.value.col) == (message, line, col)


@pytest.mark.parametrize("sql", ["", "   ", "\n", ";", "-- only a comment\n;", None])
def test_empty_sql_is_refused(sql: str) -> None:
    with pytest.raises(SQLError, match="query cannot be empty") as caught:
        validate_read_only(sql)
    assert caught.value.line is None


def test_queries_are_compiled_never_run() -> None:
    # An endless recursive CTE would hang if it were executed.
    validate_read_only("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c")


def test_semicolons_inside_strings_do_not_split() -> None:
    validate_read_only("SELECT 'a;b' AS x; SELECT \"c;d\" FROM t")
