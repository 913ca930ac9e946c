"""Finding the host behind an agent key with one pre-compiled query.

Compiling the ORM query took more CPU than the rest of an idle check-in, so the SQL and Django's
type converters for its columns are prepared once per column and database alias, and each
check-in runs one cursor query and builds the instance with `Model.from_db`. Only the columns
check-ins read are loaded; the rest stay deferred. Between changes to its row, a host found once
is found again in memory (`hosts.checkin_cache`).
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS

from fleetsite.lib.prepared import OneByValue
from hosts import checkin_cache
from hosts.models import Host

CHECKIN_FIELDS = (
    "id", "team_id", "platform", "hostname", "computer_name", "refetch_requested", "refetch_critical_queries_until",
    "detail_updated_at", "label_updated_at", "policy_updated_at", "distributed_interval", "config_tls_refresh",
    "logger_tls_period", "seen_time", "online_until", "last_restarted_at", "work_queued_at",
)  # fmt: skip

# A distributed/write also reads the digests of what the host last stored (hosts/digests.py).
WRITE_FIELDS = (*CHECKIN_FIELDS, "detail_digests")

KEY_COLUMNS = ("node_key_digest", "orbit_node_key_digest")


def _lookup(column: str, fields: tuple[str, ...]) -> OneByValue:
    return OneByValue(lambda value: Host.objects.filter(**{column: value}).only(*fields))


_lookups = {(column, False): _lookup(column, CHECKIN_FIELDS) for column in KEY_COLUMNS}
_lookups[("node_key_digest", True)] = _lookup("node_key_digest", WRITE_FIELDS)


def host_by_key(column: str, key_digest: str, alias: str = DEFAULT_DB_ALIAS, *, for_write: bool = False) -> Host | None:
    """The host whose `column` (a key digest column) equals `key_digest`, with check-in fields loaded.

    `for_write`: with `WRITE_FIELDS` (osquery node keys only), for a distributed/write.
    """
    lookup = _lookups.get((column, for_write))
    if lookup is None:
        raise ValueError(f"not a key column: {column}" + (" for a write" if for_write else ""))
    if for_write or not checkin_cache.enabled():
        # A write reads its row fresh: it compares the stored digests and writes the row itself.
        return lookup.get(key_digest, alias)
    return checkin_cache.get((alias, column, key_digest), lambda: lookup.get(key_digest, alias))
