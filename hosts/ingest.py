"""Turn detail-query rows into host fields and side tables (fleet-protocol §1.8).

Ingesters are tolerant: agents send strings, sometimes blank, and one bad value must not cost
the rest of a check-in. A `HostUpdate` gathers everything a check-in learned so the host row is
written once.
"""

from __future__ import annotations

import hashlib
import logging
import operator
import re
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import repeat
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from fleetsite.lib import bounds
from fleetsite.lib.netaddr import public_ip
from fleetsite.lib.rows import delete_where, insert_many, insert_returning, replace_rows_of, select_where, update_one
from hosts import checkin_cache, device_mapping, digests, seen
from hosts.choices import DeviceMappingSource
from hosts.models import Host, HostDeviceMapping, HostSoftware, HostUser, Software, online_window
from hosts.signals import software_installs_changed

logger = logging.getLogger(__name__)

Row = dict[str, Any]

_JUNK_SERIAL = re.compile(r"default|serial|string", re.IGNORECASE)
_RESTART_TOLERANCE = timedelta(seconds=30)


@dataclass
class HostUpdate:
    """What one check-in learned about a host: column values plus side-table replacements."""

    fields: dict[str, Any] = field(default_factory=dict)
    users: list[Row] | None = None
    software: list[Row] | None = None
    # E-mails of the host's Chrome profiles (device mapping), replacing the previous ones.
    chrome_emails: list[str] | None = None
    # Software rows matched to catalogue ids by `prepare_shared_rows`, before the host transaction.
    software_ids: dict[int, Row] | None = None
    # Label ids the host is now in / not in; a label whose query failed counts as not in (as in Fleet).
    member_of: set[int] = field(default_factory=set)
    not_member_of: set[int] = field(default_factory=set)
    # Side-table sections (hosts/digests.py): the digests the host had stored when the answer came,
    # and those of the sections this answer replaces ("" forgets a section's digest).
    stored_digests: dict[str, str] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)

    def set(self, **values: Any) -> None:
        self.fields.update(values)


def _text(row: Row, key: str) -> str:
    value = row.get(key)
    return "" if value is None else str(value).strip()


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(float(str(value).strip()))
    except (TypeError, ValueError, OverflowError):  # OverflowError: "1e999" is infinity
        return default


def _float(value: Any) -> float | None:
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _first(rows: list[Row]) -> Row | None:
    return rows[0] if rows and isinstance(rows[0], dict) else None


# --- Ingesters: (host, rows, update, context) -------------------------------------------------


def ingest_network_interface(host: Host, rows: list[Row], update: HostUpdate, context: dict) -> None:
    row = _first(rows)
    if row is not None:
        update.set(primary_ip=_text(row, "address")[:45], primary_mac=_text(row, "mac")[:17])
    # §8: public_ip is reset, then set from the request when it parses as a public address.
    update.set(public_ip=public_ip(context.get("client_ip", "")))


def _assemble_version(row: Row) -> str:
    version = _text(row, "version")
    # "22.04.3 LTS (Jammy Jellyfish)" reads better without the code name.
    version = re.sub(r"\s*\(.*\)\s*$", "", version)
    if version:
        return version
    assembled = ".".join(part for part in (_text(row, key) for key in ("major", "minor", "patch")) if part)
    extra = " ".join(value for value in (_text(row, "extra"), _text(row, "build")) if value)
    return f"{assembled} {extra}".strip()


def ingest_os_version(host: Host, rows: list[Row], update: HostUpdate, context: dict) -> None:
    row = _first(rows)
    if row is None:
        return
    name = _text(row, "name")
    platform = _text(row, "platform")
    if not platform and "centos" in name.lower():
        platform = "centos"  # CentOS 6 reports an empty platform.
    update.set(
        platform=platform[:64],
        platform_like=_text(row, "platform_like")[:64],
        code_name=_text(row, "codename")[:64],
        build=_text(row, "build")[:64],
    )
    if platform != "windows":
        update.set(os_version=f"{name} {_assemble_version(row)}".strip()[:255])


def ingest_os_version_windows(host: Host, rows: list[Row], update: HostUpdate, context: dict) -> None:
    row = _first(rows)
    if row is None:
        return
    name = _text(row, "name").removeprefix("Microsoft ").strip()
    server_core = " (Server Core)" if _text(row, "installation_type") == "Server Core" else ""
    words = [name, _text(row, "display_version") + server_core, _text(row, "version")]
    update.set(os_version=" ".join(word for word in words if word)[:255])


def ingest_osquery_flags(host: Host, rows: list[Row], update: HostUpdate, context: dict) -> None:
    flags = {_text(row, "name"): _text(row, "value") for row in rows if isinstance(row, dict)}
    # config_tls_refresh when set (non-zero), else config_refresh, which fleetd sets to 60.
    config_refresh = _int(flags.get("config_tls_refresh")) or _int(flags.get("config_refresh"))
    update.set(
        distributed_interval=_int(flags.get("distributed_interval")),
        config_tls_refresh=config_refresh,
        logger_tls_period=_int(flags.get("logger_tls_period")),
    )


def ingest_osquery_info(host: Host, rows: list[Row], update: HostUpdate, context: dict) -> None:
    row = _first(rows)
    if row is not None and _text(row, "version"):
        update.set(osquery_version=_text(row, "version")[:64])


_SYSTEM_INFO_TEXT = (
    "hostname", "uuid", "computer_name", "cpu_type", "cpu_subtype", "cpu_brand",
    "hardware_vendor", "hardware_model", "hardware_version",
)  # fmt: skip


def ingest_system_info(host: Host, rows: list[Row], update: HostUpdate, context: dict) -> None:
    row = _first(rows)
    if row is None:
        return
    values: dict[str, Any] = {key: _text(row, key)[:255] for key in _SYSTEM_INFO_TEXT if key in row}
    if "physical_memory" in row:
        values["memory"] = _int(row.get("physical_memory"))
    for key in ("cpu_physical_cores", "cpu_logical_cores"):
        if key in row:
            values[key] = _int(row.get(key))
    serial = _text(row, "hardware_serial")
    if serial != "-1" and "hardware_serial" in row:
        values["hardware_serial"] = "" if _JUNK_SERIAL.search(serial) else serial[:255]
    update.set(**values)


def ingest_uptime(host: Host, rows: list[Row], update: HostUpdate, context: dict) -> None:
    row = _first(rows)
    if row is None:
        return
    seconds = _int(row.get("total_seconds"), default=-1)
    if seconds < 0:
        return
    now = context.get("now") or timezone.now()
    restarted = now - timedelta(seconds=seconds)
    update.set(uptime_seconds=seconds)
    previous = host.last_restarted_at
    if previous is None or abs(restarted - previous) > _RESTART_TOLERANCE:
        update.set(last_restarted_at=restarted)


def ingest_disk_space(host: Host, rows: list[Row], update: HostUpdate, context: dict) -> None:
    row = _first(rows)
    if row is None:
        return
    values = {}
    for key in ("percent_disk_space_available", "gigs_disk_space_available", "gigs_total_disk_space"):
        number = _float(row.get(key))
        if number is not None:
            values[key] = round(number, 2)
    if "gigs_all_disk_space" in row:
        values["gigs_all_disk_space"] = _float(row.get("gigs_all_disk_space"))
    update.set(**values)


def ingest_orbit_info(host: Host, rows: list[Row], update: HostUpdate, context: dict) -> None:
    row = _first(rows)
    if row is None:
        return
    scripts = _text(row, "scripts_enabled")
    update.set(
        orbit_version=_text(row, "version")[:64] or None,
        fleet_desktop_version=_text(row, "desktop_version")[:64] or None,
        scripts_enabled=None if scripts == "" else scripts == "1",
    )


def ingest_users(host: Host, rows: list[Row], update: HostUpdate, context: dict) -> None:
    update.users = [row for row in rows if isinstance(row, dict) and _text(row, "username")]


def ingest_software(host: Host, rows: list[Row], update: HostUpdate, context: dict) -> None:
    update.software = [row for row in rows if isinstance(row, dict) and _text(row, "name")]


def ingest_chrome_profiles(host: Host, rows: list[Row], update: HostUpdate, context: dict) -> None:
    emails = {_text(row, "email") for row in rows if isinstance(row, dict)}
    update.chrome_emails = sorted(email for email in emails if email and bounds.fits(HostDeviceMapping, "email", email))


INGESTERS = {
    "network_interface": ingest_network_interface,
    "os_version": ingest_os_version,
    "os_version_windows": ingest_os_version_windows,
    "osquery_flags": ingest_osquery_flags,
    "osquery_info": ingest_osquery_info,
    "system_info": ingest_system_info,
    "uptime": ingest_uptime,
    "disk_space": ingest_disk_space,
    "orbit_info": ingest_orbit_info,
    "users": ingest_users,
    "software": ingest_software,
    "chrome_profiles": ingest_chrome_profiles,
}


# --- Writing ------------------------------------------------------------------------------------


def save_host_update(host: Host, update: HostUpdate) -> None:
    """Write what a check-in learned: one UPDATE for the row, a few statements per side table."""
    for _, step in host_update_steps(host, update):
        step()


Step = tuple[str, Callable[[], None]]


def host_update_steps(host: Host, update: HostUpdate, per_field: bool = False) -> list[Step]:
    """The writes of `save_host_update`, named, so a caller can isolate each in a savepoint.

    With `per_field`, each column of the host row is its own step: a value the database still
    refuses then costs only that column.
    """
    fields = _host_fields(host, update, per_field)
    steps: list[Step] = []
    if fields and per_field:
        steps += [(f"host.{name}", partial(_update_host, host, {name: value})) for name, value in fields.items()]
    elif fields:
        steps.append(("host", partial(_update_host, host, fields)))
    empty = {section for section, digest in update.stored_digests.items() if digest == digests.EMPTY}
    if update.users is not None:
        steps.append(("users", partial(_replace_users, host, update.users, "users" in empty)))
    if update.software is not None:
        steps.append(("software", partial(_save_software, host, update, "software" in empty)))
    if update.chrome_emails is not None:
        emails = update.chrome_emails
        steps.append(("device_mapping", partial(_replace_chrome_emails, host, emails, "chrome_profiles" in empty)))
    if update.member_of or update.not_member_of:
        steps.append(("labels", partial(_record_labels, host, update)))
    return steps


def _host_fields(host: Host, update: HostUpdate, per_field: bool = False) -> dict[str, Any]:
    """The host columns to write, fitted to their fields, plus the online window they imply."""
    fields = bounds.fit_values(Host, update.fields, owner=host.pk)
    if {"distributed_interval", "config_tls_refresh"} & fields.keys():
        window = online_window(
            fields.get("distributed_interval", host.distributed_interval),
            fields.get("config_tls_refresh", host.config_tls_refresh),
        )
        fields["online_until"] = max(host.online_until, host.seen_time + window)
        # The check-in's pending seen time carries the old window; it must not undo this one.
        seen.buffer.mark(host.pk, host.seen_time, fields["online_until"])
    stored = _stored_digests(update)
    if stored is not None and stored != update.stored_digests:
        # Per field (the fallback after a refused write), a section may have been dropped: forget them all.
        fields[digests.FIELD] = "" if per_field else digests.render(stored)
    if fields:
        fields["updated_at"] = timezone.now()
    return fields


def _stored_digests(update: HostUpdate) -> dict[str, str] | None:
    """The digests to store once this update is written, or None when no section is written."""
    sections = {"users": update.users, "software": update.software, "chrome_profiles": update.chrome_emails}
    written = {name for name, rows in sections.items() if rows is not None and name in update.digests}
    if not written:
        return None
    merged = {**update.stored_digests, **{name: update.digests[name] for name in written}}
    return {name: digest for name, digest in merged.items() if digest}


def _update_host(host: Host, fields: dict[str, Any]) -> None:
    update_one(Host, host.pk, fields)
    checkin_cache.forget_hosts([host.pk])
    for name, value in fields.items():
        setattr(host, name, value)


def _save_software(host: Host, update: HostUpdate, stored_empty: bool = False) -> None:
    if update.software_ids is None:
        prepare_shared_rows(update, owner=host.pk)
    _link_software(host, update.software_ids or {}, stored_empty)


def _replace_chrome_emails(host: Host, emails: list[str], stored_empty: bool = False) -> None:
    source = DeviceMappingSource.GOOGLE_CHROME_PROFILES
    device_mapping.replace_from_source(host.pk, source, emails, stored_empty=stored_empty)


def _record_labels(host: Host, update: HostUpdate) -> None:
    from hosts.labels import record_results  # labels import this module

    record_results(host, update.member_of, update.not_member_of)


_USER_TEXT = ("type", "groupname", "shell")


def _replace_users(host: Host, rows: list[Row], stored_empty: bool = False) -> None:
    seen: set[tuple[int, str]] = set()
    users = []
    for row in rows:
        # Fitted before de-duplication: two uids out of range are both unknown (-1).
        uid = bounds.fit(HostUser, "uid", _int(row.get("uid"), default=-1), owner=host.pk, unknown=-1)
        key = (uid, bounds.fit(HostUser, "username", _text(row, "username"), owner=host.pk))
        if key in seen or not key[1]:
            continue
        seen.add(key)
        text = (bounds.fit(HostUser, name, _text(row, name), owner=host.pk) for name in _USER_TEXT)
        users.append((uid, key[1], *text))
    replace_rows_of(HostUser, "host", host.pk, ("uid", "username", *_USER_TEXT), users, stored_empty=stored_empty)


_SOFTWARE_KEYS = ("name", "version", "source", "bundle_identifier", "extension_for", "vendor", "release", "arch")


_SOFTWARE_LIMITS = tuple((key, Software._meta.get_field(key).max_length) for key in _SOFTWARE_KEYS)


def software_checksum(values: dict[str, str]) -> str:
    """The identity of a software row across hosts."""
    return _identity_checksum(tuple(values[key] for key in _SOFTWARE_KEYS))


def _identity_checksum(identity: tuple[str, ...]) -> str:
    joined = "\x00".join(identity)
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()


_SOFTWARE_MAX = tuple(limit for _, limit in _SOFTWARE_LIMITS)
_SEPARATORS = len(_SOFTWARE_KEYS) - 1


def _software_identity(row: Row, owner: Any) -> tuple[tuple[str, ...], str]:
    """The catalogue columns of a reported row, in `_SOFTWARE_KEYS` order, fitted to their columns, and their checksum.

    Written out rather than through `bounds.fit_values`: a host can report 30,000 packages, and
    the usual short, clean row is checked whole, in C: its NUL bytes (only the separators) and lengths.
    """
    identity = [
        "" if value is None else (value if type(value) is str else str(value)).strip()
        for value in map(row.get, _SOFTWARE_KEYS)
    ]
    joined = "\x00".join(identity)
    if joined.count("\x00") != _SEPARATORS or any(map(operator.gt, map(len, identity), _SOFTWARE_MAX)):
        identity = [
            bounds.fit(Software, key, text, owner=owner) if len(text) > limit or "\x00" in text else text
            for (key, limit), text in zip(_SOFTWARE_LIMITS, identity, strict=True)
        ]
        joined = "\x00".join(identity)
    return tuple(identity), hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()


def _clean_column(values: list[Any], limit: int) -> list[str] | None:
    """`values` with None as "", when each is text that needs no stripping, holds no NUL and fits `limit`.

    None when any value would need `_text` or `bounds.fit`. A few C calls over the whole column
    instead of a Python step per value: a host can report 30,000 packages.
    """
    if None in values:
        values = ["" if value is None else value for value in values]
    if not values or set(map(type, values)) != {str} or max(map(len, values)) > limit:
        return None if values else []
    if "\x00".join(values).count("\x00") != len(values) - 1:
        return None
    # `strip` returns a string that needs no stripping as it is: the lengths add up only then.
    return values if sum(map(len, map(str.strip, values))) == sum(map(len, values)) else None


def _software_identities(rows: list[Row], owner: Any) -> tuple[list[tuple[str, ...]], list[str]]:
    """`_software_identity` of each row: the identities and the checksums, in row order.

    osquery's columns are clean text, so each is checked whole (`_clean_column`); if any is not,
    every row goes through `_software_identity`.
    """
    columns = []
    for key, limit in _SOFTWARE_LIMITS:
        column = _clean_column(list(map(dict.get, rows, repeat(key))), limit)
        if column is None:
            pairs = [_software_identity(row, owner) for row in rows]
            return [identity for identity, _ in pairs], [checksum for _, checksum in pairs]
        columns.append(column)
    identities = list(zip(*columns, strict=True))
    sha256 = hashlib.sha256
    checksums = [sha256(joined.encode("utf-8", "surrogatepass")).hexdigest() for joined in map("\x00".join, identities)]
    return identities, checksums


def _opened_at(value: Any) -> datetime | None:
    seconds = _float(value)
    if not seconds or seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def prepare_shared_rows(update: HostUpdate, owner: Any = None) -> None:
    """Create the fleet-wide software rows a check-in mentions, outside the host's transaction.

    Many hosts report the same packages at once; inserting the shared rows in their own short
    statements, in one global order, keeps concurrent check-ins from deadlocking on them.
    Creating a catalogue row that no host ends up linking is harmless.
    """
    if update.software is None:
        return
    reported = update.software
    identities, checksums = _software_identities(reported, owner)
    # Each checksum's first row, by index (built backwards so the first is kept): a tuple per row
    # holding the row would outlive the young collections and set off full ones (rows._columns).
    first = dict(zip(reversed(checksums), range(len(checksums) - 1, -1, -1), strict=False))
    ids = _catalogue_ids(list(first))
    missing = sorted(checksum for checksum in first if checksum not in ids)
    if missing:
        # One transaction where the driver would otherwise commit each row of the executemany
        # (SQLite, PostgreSQL); on MySQL one multi-row INSERT, committed alone.
        names, rows = ("checksum", *_SOFTWARE_KEYS), [(checksum, *identities[first[checksum]]) for checksum in missing]
        inserted = insert_returning(Software, names, rows, ("checksum", "id"))
        if inserted is None:
            with transaction.atomic(savepoint=False) if connection.vendor != "mysql" else nullcontext():
                insert_many(Software, names, rows, ignore_conflicts=True)
        else:
            ids.update(inserted)
        # Rows another host inserted meanwhile (or all of them, where the INSERT returns nothing).
        ids.update(_catalogue_ids([checksum for checksum in missing if checksum not in ids]))
    update.software_ids = {ids[checksum]: reported[index] for checksum, index in first.items() if checksum in ids}


# One SELECT for any host's software (6.7 MB of SQL at most, under `rows._MYSQL_STATEMENT_BYTES`),
# so a detail write costs the same statements whatever its size.
_CHECKSUMS_PER_SELECT = 100_000


def _catalogue_ids(checksums: list[str]) -> dict[str, int]:
    """Catalogue ids by checksum, in plain SQL: the ORM's lookup costs 3 µs per value, 0.1 s at 30,000.

    The checksums are written into the SQL (quoting each as a parameter cost more): only ever pass
    checksums `_software_identity` made, never text from a request.
    """
    table = connection.ops.quote_name(Software._meta.db_table)
    ids: dict[str, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(checksums), _CHECKSUMS_PER_SELECT):
            chunk = checksums[start : start + _CHECKSUMS_PER_SELECT]
            listed = ", ".join(f"'{checksum}'" for checksum in chunk)
            cursor.execute(f"SELECT checksum, id FROM {table} WHERE checksum IN ({listed})")
            ids.update(cursor.fetchall())
    return ids


_PATH_LIMIT = HostSoftware._meta.get_field("installed_path").max_length


def _installed_path(row: Row, owner: int) -> str:
    path = row.get("installed_path")
    if not path:
        return ""
    if type(path) is str and len(path) <= _PATH_LIMIT and "\x00" not in path and path == path.strip():
        return path
    return bounds.fit(HostSoftware, "installed_path", _text(row, "installed_path"), owner=owner)


def _link_columns(rows: list[Row], owner: int) -> tuple[list[Any], list[str]]:
    """The `last_opened_at` (database values) and `installed_path` of each reported row.

    Column by column: most packages report neither, and clean paths are checked whole.
    """
    opened = list(map(dict.get, rows, repeat("last_opened_at")))
    if any(opened):
        adapt = connection.ops.adapt_datetimefield_value
        opened = [adapt(at) if at else None for at in (_opened_at(value) if value else None for value in opened)]
    else:
        opened = [None] * len(rows)
    reported = list(map(dict.get, rows, repeat("installed_path")))
    paths = [value or "" for value in reported] if any(reported) else [""] * len(rows)
    if any(paths) and _clean_column(paths, _PATH_LIMIT) is None:
        paths = [_installed_path(row, owner) for row in rows]
    return opened, paths


def _link_software(host: Host, target: dict[int, Row], stored_empty: bool = False) -> None:
    """Make the host's software links exactly `target` (catalogue id -> reported row).

    `stored_empty`: the host has no links yet (hosts/digests.py), so none are read.
    """
    host_id = host.pk
    current: set[int] = set()
    if not stored_empty:
        current = {row[0] for row in select_where(HostSoftware, ("software",), {"host": host_id})}
    removed = current - target.keys()
    if removed:
        delete_where(HostSoftware, {"host": host_id}, "software", sorted(removed))
    added = sorted(target.keys() - current)
    if added:
        opened, paths = _link_columns(list(map(target.__getitem__, added)), host_id)
        rows = zip(repeat(host_id), added, opened, paths, strict=False)
        names = ("host", "software", "last_opened_at", "installed_path")
        insert_many(HostSoftware, names, rows, ignore_conflicts=True, prepared=True)
    if removed or added:
        software_installs_changed.send(sender=HostSoftware, host_id=host_id, added=set(added), removed=removed)
