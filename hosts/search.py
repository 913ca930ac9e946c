"""Fleet's host search (`query=`): a substring match, narrowed through the search index when a scan would be slow.

Fleet matches `LIKE '%text%'` on a host's names, uuid, serial and addresses. A term that many hosts
contain is cheapest as that plain filter, because the database walks hosts in the page's order and
stops after a page; a term few hosts contain would read every host (a second at a million), so it
first takes the candidate ids from the search index (migration hosts/0010) and checks only those.
Which term is which is told by a sample of the index's rows, kept per process for ten minutes.

The index only narrows: every answer is still the same LIKE, so a stale sample or a wrong guess
costs time, never a host.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Q
from django.db.models.expressions import RawSQL

SEARCHED = ("hostname", "computer_name", "uuid", "hardware_serial", "primary_ip", "public_ip")
SAMPLE_SIZE = 1000
SAMPLE_SECONDS = 600.0
# A term in 1% of hosts is found in about 100 rows per page walked; reading its candidates
# (1% of the fleet) would cost more at any size past 10,000 hosts, so it is left to the scan.
COMMON_SHARE = 0.01
TRIGGERS = ("hosts_host_search_insert", "hosts_host_search_update", "hosts_host_search_delete")
POSTGRES_TRIGGERS = ("hosts_host_search_write", "hosts_host_search_update")
# MariaDB's words are 4-character windows; PostgreSQL's and SQLite's trigram indexes need 3.
WINDOW = 4
MOST_WINDOWS = 32  # a longer term is narrowed by its rarest window among the first 32
NEEDED_GROUP_CONCAT = 65536  # a haystack's words reach about 20 KB


def matching(text: str, columns: Sequence[str] = SEARCHED, using: str = DEFAULT_DB_ALIAS) -> Q:
    """Hosts with `text` in any of `columns` (Fleet's LIKE), through the index when few hosts have it."""
    like = reduce(or_, (Q(**{f"{column}__icontains": text}) for column in columns))
    narrowed = candidates(text, using)
    return like if narrowed is None else like & Q(pk__in=narrowed)


def candidates(text: str, using: str = DEFAULT_DB_ALIAS, *, always: bool = False) -> RawSQL | None:
    """The ids of hosts that may contain `text`, or None where scanning is cheaper or no index serves.

    `always` skips the sample's verdict (the tests compare both paths on one fleet).
    """
    connection = connections[using]
    backend = _BACKENDS.get(connection.vendor)
    sample = _sample(using, backend) if backend else None
    if backend is None or sample is None or not backend.usable(text):
        return None
    return backend.narrow(connection, sample, text, always)


def forget_samples() -> None:
    """Drop every process's cached sample (tests; a sample is otherwise ten minutes old at most)."""
    with _lock:
        _samples.clear()


@dataclass
class _Sample:
    taken: float
    size: int  # documents read
    texts: list[str] = field(default_factory=list)  # PostgreSQL and SQLite: each haystack
    words: dict[str, frozenset[int]] = field(default_factory=dict)  # MariaDB: word -> sampled documents
    charset: str = ""  # MariaDB: the searched columns' character set and collation
    collation: str = ""


_lock = threading.Lock()
_samples: dict[str, tuple[float, _Sample | None]] = {}


def _sample(using: str, backend: _Backend) -> _Sample | None:
    now = time.monotonic()
    cached = _samples.get(using)
    if cached is not None and now - cached[0] < SAMPLE_SECONDS:
        return cached[1]
    connection = connections[using]
    with connection.cursor() as cursor:
        sample = backend.take(cursor, now) if backend.available(connection, cursor) else None
    with _lock:
        _samples[using] = (now, sample)
    return sample


def _sample_ids(cursor: Any) -> list[int]:
    """Up to SAMPLE_SIZE host ids drawn at random across the id range (all of a small fleet)."""
    cursor.execute("SELECT MIN(id), MAX(id) FROM hosts_host")
    low, high = cursor.fetchone()
    if low is None:
        return []
    span = range(low, high + 1)
    return list(span) if len(span) <= SAMPLE_SIZE else random.sample(span, SAMPLE_SIZE)


def _like_pattern(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class _Backend:
    def available(self, connection: Any, cursor: Any) -> bool:
        raise NotImplementedError

    def take(self, cursor: Any, now: float) -> _Sample:
        raise NotImplementedError

    def usable(self, text: str) -> bool:
        return len(text) >= 3

    def share(self, sample: _Sample, text: str) -> float:
        """The part of the sample containing `text`, as the database's LIKE would find it, near enough."""
        folded = text.casefold()
        hits = sum(folded in haystack for haystack in sample.texts)
        return hits / sample.size if sample.size else 0.0

    def narrow(self, connection: Any, sample: _Sample, text: str, always: bool) -> RawSQL | None:
        """The candidate ids' query, unless the sample says the term is common enough to scan for."""
        if not always and self.share(sample, text) >= COMMON_SHARE:
            return None
        return self.query(text)

    def query(self, text: str) -> RawSQL:
        raise NotImplementedError


class _PostgreSQL(_Backend):
    """pg_trgm's GIN index answers `LIKE` on the upper-cased haystack, as Django's icontains compares."""

    def available(self, connection: Any, cursor: Any) -> bool:
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'hosts_host'::regclass AND tgname = ANY(%s)",
            [list(POSTGRES_TRIGGERS)],
        )
        return cursor.fetchone()[0] == len(POSTGRES_TRIGGERS)

    def take(self, cursor: Any, now: float) -> _Sample:
        ids = _sample_ids(cursor)
        cursor.execute("SELECT haystack FROM hosts_hostsearch WHERE host_id = ANY(%s)", [ids])
        texts = [row[0].casefold() for row in cursor.fetchall()]
        return _Sample(taken=now, size=len(texts), texts=texts)

    def query(self, text: str) -> RawSQL:
        return RawSQL("SELECT host_id FROM hosts_hostsearch WHERE haystack LIKE UPPER(%s)", [_like_pattern(text)])


class _SQLite(_Backend):
    """FTS5's trigram tokenizer answers `LIKE` (case-folded, so more than SQLite's ASCII-only LIKE finds)."""

    def available(self, connection: Any, cursor: Any) -> bool:
        marks = ", ".join("%s" for _ in TRIGGERS)
        cursor.execute(f"SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN ({marks})", TRIGGERS)
        return cursor.fetchone()[0] == len(TRIGGERS)

    def take(self, cursor: Any, now: float) -> _Sample:
        ids = _sample_ids(cursor)
        texts: list[str] = []
        for start in range(0, len(ids), 500):  # SQLite's older bound on parameters
            chunk = ids[start : start + 500]
            marks = ", ".join("%s" for _ in chunk)
            cursor.execute(f"SELECT haystack FROM hosts_hostsearch WHERE rowid IN ({marks})", chunk)
            texts += [row[0].casefold() for row in cursor.fetchall()]
        return _Sample(taken=now, size=len(texts), texts=texts)

    def usable(self, text: str) -> bool:
        # FTS5 takes LIKE with no ESCAPE clause, so a term holding a wildcard is left to the scan.
        return len(text) >= 3 and "%" not in text and "_" not in text

    def query(self, text: str) -> RawSQL:
        return RawSQL("SELECT rowid FROM hosts_hostsearch WHERE haystack LIKE %s", [f"%{text}%"])


class _MariaDB(_Backend):
    """FULLTEXT words of collation weights: a host with `text` has every word of the term's windows.

    The index is asked for the term's two rarest words only (by the sample): InnoDB reads each
    required word's whole list, so a common window would cost what the scan costs.
    """

    def available(self, connection: Any, cursor: Any) -> bool:
        if not connection.mysql_is_mariadb:
            return False
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() "
            "AND EVENT_OBJECT_TABLE = 'hosts_host' AND TRIGGER_NAME IN (%s, %s, %s)",
            TRIGGERS,
        )
        if cursor.fetchone()[0] != len(TRIGGERS):
            return False
        cursor.execute("SELECT @@group_concat_max_len")
        return cursor.fetchone()[0] >= NEEDED_GROUP_CONCAT

    def take(self, cursor: Any, now: float) -> _Sample:
        cursor.execute(
            "SELECT CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'hosts_host' AND COLUMN_NAME = 'hostname'"
        )
        charset, collation = cursor.fetchone()
        ids = _sample_ids(cursor)
        documents: dict[str, set[int]] = {}
        size = 0
        if ids:
            marks = ", ".join("%s" for _ in ids)
            cursor.execute(f"SELECT grams FROM hosts_hostsearch WHERE host_id IN ({marks})", ids)
            for size, (grams,) in enumerate(cursor.fetchall(), start=1):
                for word in grams.split():
                    documents.setdefault(word, set()).add(size)
        words = {word: frozenset(found) for word, found in documents.items()}
        return _Sample(taken=now, size=size, words=words, charset=charset, collation=collation)

    def usable(self, text: str) -> bool:
        return len(text) >= WINDOW

    def _words(self, connection: Any, sample: _Sample, text: str) -> list[str]:
        """The term's windows as the index writes them: weights under the columns' collation."""
        windows = [text[i : i + WINDOW] for i in range(min(len(text) - WINDOW + 1, MOST_WINDOWS))]
        weight = f"HEX(WEIGHT_STRING(CONVERT(%s USING {sample.charset}) COLLATE {sample.collation}))"
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(weight for _ in windows), windows)
            weights = cursor.fetchone()
        # A window of ignorable characters weighs nothing: FULLTEXT keeps no word under 3 characters.
        return list(dict.fromkeys(f"g{hex_weight}" for hex_weight in weights if len(hex_weight) >= 2))

    def narrow(self, connection: Any, sample: _Sample, text: str, always: bool) -> RawSQL | None:
        if connection.in_atomic_block:
            return None  # InnoDB indexes words at commit: this transaction's own hosts are not in it yet
        words = self._words(connection, sample, text)
        if not words:
            return None
        # Sampled hosts holding every word of the term: those the LIKE may find, and more.
        found = [sample.words.get(word, frozenset()) for word in words]
        hits = reduce(frozenset.intersection, found)
        if not always and sample.size and len(hits) / sample.size >= COMMON_SHARE:
            return None
        rarest = sorted(zip(found, words, strict=True), key=lambda pair: len(pair[0]))[:2]
        query = " ".join(f"+{word}" for _, word in rarest)
        return RawSQL("SELECT host_id FROM hosts_hostsearch WHERE MATCH(grams) AGAINST (%s IN BOOLEAN MODE)", [query])


_BACKENDS: dict[str, _Backend] = {"postgresql": _PostgreSQL(), "sqlite": _SQLite(), "mysql": _MariaDB()}
