"""SQL checks for saved queries, labels, policies and live queries: osquery must accept it, and it must only read.

osquery runs SQLite, so "valid" means SQLite's own grammar: each statement is compiled (never run)
with `EXPLAIN` on an empty in-memory database, where unknown tables and functions are fine (they
are osquery's virtual tables) and only syntax errors count. sqlglot (dialect "sqlite") tokenizes,
splits the statements and decides that each one only reads; its lenient parser alone would accept
things SQLite refuses (`SELECT FROM t`, `SELECT x::int`).

The API is one function and one exception:

    try:
        validate_read_only(sql)
    except SQLError as exc:
        exc.message, exc.line, exc.col  # str(exc) carries the position too
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.dialects.sqlite import SQLite
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

# sqlglot logs a warning for every statement it cannot parse fully (user input): keep logs quiet.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

# Statement verbs that only read. Everything else (INSERT, UPDATE, DELETE, REPLACE, CREATE, DROP,
# ALTER, ATTACH, DETACH, PRAGMA (even reads: they can change settings), VACUUM, EXPLAIN, BEGIN, …)
# is refused.
_READ_VERBS = frozenset({"SELECT", "VALUES"})
_MAIN_VERBS = frozenset({"SELECT", "VALUES", "INSERT", "UPDATE", "DELETE", "REPLACE"})
# SQLite's other statements: named as such even when the rest is malformed; any other first word
# is a syntax error.
_STATEMENT_VERBS = _MAIN_VERBS | {
    "CREATE", "DROP", "ALTER", "ATTACH", "DETACH", "PRAGMA", "VACUUM", "EXPLAIN", "BEGIN", "COMMIT", "END",
    "ROLLBACK", "SAVEPOINT", "RELEASE", "ANALYZE", "REINDEX",
}  # fmt: skip
# Nodes that never belong in a read, wherever sqlglot finds them (defence in depth: SQLite's
# grammar already refuses writes inside a SELECT).
_WRITE_NODES = (exp.DML, exp.DDL, exp.Command, exp.Pragma, exp.Attach, exp.Detach, exp.Into, exp.Transaction)
_READ_NODES = (exp.Select, exp.SetOperation, exp.Values)
_SYNTAX_MARKERS = ("syntax error", "unrecognized token", "incomplete input")
_local = threading.local()


class SQLError(ValueError):
    """A query that osquery would refuse, or that writes; `line` and `col` are 1-based when known."""

    def __init__(self, message: str, line: int | None = None, col: int | None = None) -> None:
        where = f" (line {line}, column {col})" if line is not None else ""
        super().__init__(f"{message}{where}")
        self.message, self.line, self.col = message, line, col


@dataclass(frozen=True)
class _Statement:
    start: int  # offset of the statement's first token in the whole text
    end: int  # offset just past its last token (the `;` excluded)
    tokens: list[Token]


def validate_read_only(sql: str) -> None:
    """Raise SQLError unless `sql` is one or more SQLite read statements (SELECT, WITH … SELECT, UNION …, VALUES)."""
    if not isinstance(sql, str) or not sql.strip():
        raise SQLError("query cannot be empty")
    statements = _split(sql, _tokenize(sql))
    if not statements:
        raise SQLError("query cannot be empty")
    for statement in statements:
        verb, token = _verb(statement)
        if verb not in _STATEMENT_VERBS:
            _check_sqlite_syntax(sql, statement)
        if verb not in _READ_VERBS:
            raise _not_a_read(sql, verb, token.start)
        _check_sqlite_syntax(sql, statement)
    _check_tree(sql, statements)


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _error_at(text: str, offset: int, message: str) -> SQLError:
    return SQLError(message, *_position(text, offset))


def _tokenize(text: str) -> list[Token]:
    tokenizer = SQLite().tokenizer_class()
    try:
        return tokenizer.tokenize(text)
    except TokenError as exc:
        # The bad token starts after the last good one: an unclosed quote, comment or bracket.
        offset = tokenizer.tokens[-1].end + 1 if tokenizer.tokens else 0
        while offset < len(text) and text[offset].isspace():
            offset += 1
        snippet = text[offset : offset + 20].split("\n", 1)[0]
        raise _error_at(text, offset, f'syntax error: unrecognized token: "{snippet}"') from exc


def _split(text: str, tokens: list[Token]) -> list[_Statement]:
    """Statements at top-level semicolons (sqlglot's tokens know strings and comments); empty ones dropped."""
    statements: list[_Statement] = []
    current: list[Token] = []
    for token in [*tokens, None]:
        if token is None or token.token_type == TokenType.SEMICOLON:
            if current:
                statements.append(_Statement(current[0].start, current[-1].end + 1, current))
            current = []
        else:
            current.append(token)
    return statements


def _verb(statement: _Statement) -> tuple[str, Token]:
    """The statement's main keyword; after WITH, the first one outside the CTEs' parentheses."""
    first = statement.tokens[0]
    if first.text.upper() != "WITH":
        return first.text.upper(), first
    depth = 0
    for token in statement.tokens[1:]:
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
        elif depth == 0 and token.text.upper() in _MAIN_VERBS:
            return token.text.upper(), token
    return "WITH", first


def _not_a_read(text: str, verb: str, offset: int) -> SQLError:
    return _error_at(text, offset, f"only read statements (SELECT) are allowed, not {verb}")


def _sqlite_error(sql: str) -> str | None:
    """SQLite's syntax error for one statement, compiled but never run; other errors (no such table) are None."""
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = _local.connection = sqlite3.connect(":memory:", check_same_thread=False)
    try:
        connection.execute(f"EXPLAIN {sql}").fetchmany(1)
    except sqlite3.OperationalError as exc:
        message = str(exc)
        return message if any(marker in message for marker in _SYNTAX_MARKERS) else None
    except (sqlite3.Error, sqlite3.Warning):
        return None  # e.g. parameters without bindings: osquery's business, not a syntax error
    return None


def _check_sqlite_syntax(text: str, statement: _Statement) -> None:
    message = _sqlite_error(text[statement.start : statement.end])
    if message is None:
        return
    tokens = statement.tokens
    if "incomplete input" in message:
        raise _error_at(text, tokens[-1].end + 1, "syntax error: incomplete input")
    # SQLite gives no position: find the shortest prefix (in whole tokens) that is already wrong.
    low, high = 0, len(tokens) - 1
    while low < high:
        middle = (low + high) // 2
        prefix_error = _sqlite_error(text[statement.start : tokens[middle].end + 1])
        if prefix_error is not None and "incomplete input" not in prefix_error:
            high = middle
        else:
            low = middle + 1
    reason = message.removesuffix(": syntax error")
    reason = f"syntax error {reason}" if reason != message else f"syntax error: {message}"
    raise _error_at(text, tokens[low].start, reason)


def _check_tree(text: str, statements: list[_Statement]) -> None:
    """sqlglot's view of each statement: a read at the top and no writing node anywhere."""
    try:
        trees = [sqlglot.parse_one(text[s.start : s.end], read="sqlite") for s in statements]
    except ParseError:
        return  # SQLite accepted it and its verb is a read: sqlglot just lacks this syntax.
    for statement, tree in zip(statements, trees, strict=True):
        if not isinstance(tree, _READ_NODES):
            raise _not_a_read(text, _verb(statement)[0], statement.start)
        for node in tree.walk():
            if isinstance(node, _WRITE_NODES):
                raise _not_a_read(text, node.key.upper(), statement.start)
