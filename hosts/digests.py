"""Digests of the side-table sections a host last stored, so an unchanged answer costs nothing.

A host answers its detail queries every hour, and its software, users and Chrome e-mails are
nearly always what they were. Each of these sections replaces the host's rows of one table, so
what is stored is a function of the section's rows alone: a digest of the rows, kept on the
host (`Host.detail_digests`), says whether the rows already stored came from the same answer.
The digest is read with the host (the distributed/write lookup loads the column) and written
in the same UPDATE as the host's other columns, so the check costs no statement.

Only ingestion writes these tables. Anything else that changes them must clear the host's
digests (`forget`), or the next identical answer would leave its change in place. A host
created by enrollment starts with `EMPTY` sections, so its first answer reads nothing back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from hosts.models import Host

# Part of every digest: bump it when ingestion stores the same rows differently (a new column,
# another fitting rule), so every host's next answer is stored again.
VERSION = b"1"

FIELD = "detail_digests"

# Ingesters whose rows replace the host's rows of a side table (hosts/ingest.py INGESTERS).
SECTIONS = ("users", "software", "chrome_profiles")

# The digest of a section the host has stored nothing for yet: its writer reads no rows back.
EMPTY = "-"


def of_rows(parts: Iterable[tuple[str, Sequence[Any]]]) -> str | None:
    """The digest of (query name, rows) pairs as received, or None when they cannot be serialized."""
    hasher = hashlib.blake2b(VERSION, digest_size=16)
    try:
        for name, rows in parts:
            hasher.update(orjson.dumps([name, rows]))
    except (TypeError, orjson.JSONEncodeError):
        return None
    return hasher.hexdigest()


def parse(text: str | None) -> dict[str, str]:
    """`section=digest section=digest` as a dict; anything unreadable counts as unknown."""
    if not text:
        return {}
    pairs = (item.partition("=") for item in text.split())
    return {section: digest for section, sep, digest in pairs if sep and digest}


def render(digests: dict[str, str]) -> str:
    return " ".join(f"{section}={digest}" for section, digest in sorted(digests.items()))


def nothing_stored() -> str:
    """`Host.detail_digests` of a host enrolled just now: no section has rows yet."""
    return render(dict.fromkeys(SECTIONS, EMPTY))


def stored(host: Host) -> dict[str, str]:
    """The host's stored digests if its row was loaded with them; unknown (empty) otherwise.

    Never loads the column: a deferred field would cost a query.
    """
    return parse(host.__dict__.get(FIELD))


def forget(host_ids: Iterable[int]) -> None:
    """Make the next answer of these hosts be stored in full (their side-table rows were changed elsewhere)."""
    Host.objects.filter(pk__in=list(host_ids)).update(**{FIELD: ""})
