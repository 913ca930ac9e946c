"""A search index for Fleet's host `query=`, kept current by triggers on hosts_host.

Fleet's host search is a substring match (`LIKE '%text%'`) over six columns, which reads every
host when few match: about a second at a million hosts. This table holds each host's searchable
values in a form a substring index can serve, written by triggers so that every way of writing a
host (enrolment, detail answers, bulk seeding, the admin, raw SQL) keeps it current, and the
seen-time flush, which sets none of the six columns, never touches it:

- PostgreSQL: the values joined and upper-cased, with a pg_trgm GIN index (the extension is
  trusted, so a database owner may create it; without it, no table and searches scan).
- SQLite: an FTS5 table with the trigram tokenizer.
- MariaDB: the collation weights of every 4-character window of the values, as FULLTEXT words.
  Weights fold case and accents exactly as the columns' collation does, so a window that LIKE
  finds equal has the same word. Where the server refuses triggers (binary logging without the
  privilege), or on MySQL (whose default group_concat_max_len truncates), no table is made.

The index only narrows the hosts a search reads; hosts/search.py still matches them with the
same LIKE, so a stale or partial row can cost time but never change an answer.
"""

import logging

from django.db import DatabaseError, migrations

logger = logging.getLogger(__name__)

SEARCHED = ("hostname", "computer_name", "uuid", "hardware_serial", "primary_ip", "public_ip")
# The longest haystack: four 255-character columns, two 45-character addresses, five separators.
LONGEST = 4 * 255 + 2 * 45 + 5


def _mariadb_haystack(row: str) -> str:
    return "CONCAT_WS('\\n', " + ", ".join(f"{row}.{column}" for column in SEARCHED) + ")"


def _mariadb_grams(haystack: str) -> str:
    """The distinct weight words of a haystack: one per 4-character window."""
    return (
        "COALESCE((SELECT GROUP_CONCAT(DISTINCT 'g', HEX(WEIGHT_STRING(SUBSTRING("
        f"{haystack}, n, 4))) SEPARATOR ' ') FROM hosts_searchnumber WHERE n <= CHAR_LENGTH({haystack}) - 3), '')"
    )


def _mariadb_upsert(row: str) -> str:
    return (
        f"INSERT INTO hosts_hostsearch (host_id, grams) VALUES ({row}.id, {_mariadb_grams(_mariadb_haystack(row))}) "
        "ON DUPLICATE KEY UPDATE grams = VALUES(grams)"
    )


MARIADB_CREATE = [
    "CREATE TABLE hosts_searchnumber (n SMALLINT UNSIGNED NOT NULL PRIMARY KEY) ENGINE=InnoDB",
    "INSERT INTO hosts_searchnumber (n) VALUES " + ", ".join(f"({n})" for n in range(1, LONGEST + 1)),
    "CREATE TABLE hosts_hostsearch (host_id BIGINT NOT NULL PRIMARY KEY, "
    "grams MEDIUMTEXT CHARACTER SET ascii NOT NULL, FULLTEXT KEY hosts_hostsearch_grams (grams)) ENGINE=InnoDB",
    f"CREATE TRIGGER hosts_host_search_insert AFTER INSERT ON hosts_host FOR EACH ROW {_mariadb_upsert('NEW')}",
    "CREATE TRIGGER hosts_host_search_update AFTER UPDATE ON hosts_host FOR EACH ROW "
    "IF NOT (" + " AND ".join(f"NEW.{c} <=> OLD.{c}" for c in SEARCHED) + f") THEN {_mariadb_upsert('NEW')}; END IF",
    "CREATE TRIGGER hosts_host_search_delete AFTER DELETE ON hosts_host FOR EACH ROW "
    "DELETE FROM hosts_hostsearch WHERE host_id = OLD.id",
    "INSERT INTO hosts_hostsearch (host_id, grams) "
    f"SELECT h.id, {_mariadb_grams(_mariadb_haystack('h'))} FROM hosts_host h",
]

POSTGRES_HAYSTACK = "UPPER(CONCAT_WS(E'\\n', " + ", ".join(f"NEW.{c}" for c in SEARCHED) + "))"
POSTGRES_CREATE = [
    "CREATE TABLE hosts_hostsearch (host_id bigint PRIMARY KEY, haystack text NOT NULL)",
    "CREATE INDEX hosts_hostsearch_trgm ON hosts_hostsearch USING gin (haystack gin_trgm_ops)",
    f"""CREATE FUNCTION hosts_host_search() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            DELETE FROM hosts_hostsearch WHERE host_id = OLD.id;
        ELSE
            INSERT INTO hosts_hostsearch (host_id, haystack) VALUES (NEW.id, {POSTGRES_HAYSTACK})
            ON CONFLICT (host_id) DO UPDATE SET haystack = EXCLUDED.haystack;
        END IF;
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER hosts_host_search_write AFTER INSERT OR DELETE ON hosts_host "
    "FOR EACH ROW EXECUTE FUNCTION hosts_host_search()",
    f"CREATE TRIGGER hosts_host_search_update AFTER UPDATE OF {', '.join(SEARCHED)} ON hosts_host FOR EACH ROW "
    "WHEN (" + " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in SEARCHED) + ") "
    "EXECUTE FUNCTION hosts_host_search()",
    "INSERT INTO hosts_hostsearch (host_id, haystack) SELECT id, UPPER(CONCAT_WS(E'\\n', "
    + ", ".join(SEARCHED)
    + ")) FROM hosts_host",
]

SQLITE_HAYSTACK = " || char(10) || ".join(f"NEW.{c}" for c in SEARCHED)
SQLITE_INSERT = f"INSERT OR REPLACE INTO hosts_hostsearch (rowid, haystack) VALUES (NEW.id, {SQLITE_HAYSTACK});"
SQLITE_CREATE = [
    "CREATE VIRTUAL TABLE hosts_hostsearch USING fts5(haystack, tokenize='trigram')",
    f"CREATE TRIGGER hosts_host_search_insert AFTER INSERT ON hosts_host BEGIN {SQLITE_INSERT} END",
    f"CREATE TRIGGER hosts_host_search_update AFTER UPDATE OF {', '.join(SEARCHED)} ON hosts_host "
    "WHEN " + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in SEARCHED) + " "
    f"BEGIN DELETE FROM hosts_hostsearch WHERE rowid = OLD.id; {SQLITE_INSERT} END",
    "CREATE TRIGGER hosts_host_search_delete AFTER DELETE ON hosts_host "
    "BEGIN DELETE FROM hosts_hostsearch WHERE rowid = OLD.id; END",
    "INSERT INTO hosts_hostsearch (rowid, haystack) SELECT id, "
    + " || char(10) || ".join(SEARCHED)
    + " FROM hosts_host",
]

DROP = {
    "mysql": [
        "DROP TRIGGER IF EXISTS hosts_host_search_insert",
        "DROP TRIGGER IF EXISTS hosts_host_search_update",
        "DROP TRIGGER IF EXISTS hosts_host_search_delete",
        "DROP TABLE IF EXISTS hosts_hostsearch",
        "DROP TABLE IF EXISTS hosts_searchnumber",
    ],
    "postgresql": [
        "DROP TRIGGER IF EXISTS hosts_host_search_write ON hosts_host",
        "DROP TRIGGER IF EXISTS hosts_host_search_update ON hosts_host",
        "DROP FUNCTION IF EXISTS hosts_host_search()",
        "DROP TABLE IF EXISTS hosts_hostsearch",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS hosts_host_search_insert",
        "DROP TRIGGER IF EXISTS hosts_host_search_update",
        "DROP TRIGGER IF EXISTS hosts_host_search_delete",
        "DROP TABLE IF EXISTS hosts_hostsearch",
    ],
}


def _statements(connection) -> list[str]:
    """This database's statements, or none where the index cannot be kept (searches then scan)."""
    if connection.vendor == "postgresql":
        return POSTGRES_CREATE
    if connection.vendor == "sqlite":
        return SQLITE_CREATE
    if connection.vendor == "mysql" and connection.mysql_is_mariadb:
        return MARIADB_CREATE
    return []


def create(apps, schema_editor) -> None:
    connection = schema_editor.connection
    statements = _statements(connection)
    if not statements:
        return
    try:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SAVEPOINT host_search")
                try:
                    cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                except DatabaseError:
                    cursor.execute("ROLLBACK TO SAVEPOINT host_search")
                    logger.warning("host search: pg_trgm cannot be created here, so searches scan the hosts table")
                    return
            for statement in statements:
                cursor.execute(statement)
    except DatabaseError as error:
        if connection.vendor != "mysql":
            raise
        # MariaDB with binary logging refuses triggers to a user without the privilege (error 1419).
        logger.warning("host search: no index (%s), so searches scan the hosts table", error)
        drop(apps, schema_editor)


def drop(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        for statement in DROP.get(schema_editor.connection.vendor, []):
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("hosts", "0009_host_software_without_constraint")]

    operations = [migrations.RunPython(create, drop)]
