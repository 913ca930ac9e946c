"""Matching enrolling agents to host rows (fleet-protocol §1.1 and §7).

osquery and orbit enrollments of one machine meet on `osquery_host_id` and become one host
with both keys. Enrolling again with the same identity reuses the row and replaces the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from enrollment.agent.base import AgentError
from enrollment.models import EnrollSecret
from fleetsite.lib import bounds
from fleetsite.lib.db import atomic_with_retry
from fleetsite.lib.tokens import digest, random_key
from hosts import labels, summary
from hosts.constants import NEVER_UPDATED
from hosts.digests import nothing_stored
from hosts.ingest import INGESTERS, HostUpdate, save_host_update
from hosts.models import Host, online_window


def new_node_key() -> str:
    return random_key(settings.FLEETSITE_NODE_KEY_SIZE)


def osquery_identifier(provided: str, host_details: dict[str, Any]) -> str:
    """§1.1 step 3: the identifier the server trusts, by the `host_identifier` setting."""
    source = {
        "instance": ("osquery_info", "instance_id"),
        "uuid": ("osquery_info", "uuid"),
        "hostname": ("system_info", "hostname"),
    }.get(settings.FLEETSITE_HOST_IDENTIFIER)
    if source is not None:
        table = host_details.get(source[0])
        value = table.get(source[1]) if isinstance(table, dict) else None
        if isinstance(value, str) and value:
            return value
    return provided


def _new_host_defaults(now: Any) -> dict[str, Any]:
    return {
        "detail_updated_at": NEVER_UPDATED,
        "label_updated_at": NEVER_UPDATED,
        "policy_updated_at": NEVER_UPDATED,
        "refetch_requested": True,
        "created_at": now,
        "seen_time": now,
        "online_until": now + online_window(0, 0),
        "last_enrolled_at": now,
        "detail_digests": nothing_stored(),  # no side-table rows yet: the first answer reads none back
    }


def _locked_host(identifier: str) -> Host | None:
    """The host row, locked.

    On MariaDB the UPDATE that follows finds the row through the narrow (id, team) index, which a
    concurrent UPDATE of the same host (orbit's device token) may hold while it waits for the row:
    a deadlock the database breaks by rolling one back, so enrolling runs in `atomic_with_retry`.
    """
    return Host.objects.select_for_update().filter(osquery_host_id=identifier).first()


@dataclass
class Enrolled:
    host: Host
    node_key: str
    created: bool


def enroll_osquery(secret: EnrollSecret, provided_identifier: str, host_details: dict[str, Any]) -> Enrolled:
    """§1.1: match or create the host, issue a fresh node key, ingest the enroll-time details."""
    identifier = osquery_identifier(provided_identifier, host_details)
    if not identifier:
        raise AgentError("enroll failed: host_identifier is empty", status=401, node_invalid=True)
    if not bounds.fits(Host, "osquery_host_id", identifier):
        # The identifier may come from host_details (the host_identifier setting); it is matched as sent.
        raise AgentError("enroll failed: host_identifier does not fit (too long or has NUL bytes)")
    node_key = new_node_key()
    now = timezone.now()

    def enroll() -> Enrolled:
        host = _locked_host(identifier)
        created = host is None
        if created:
            host = Host(osquery_host_id=identifier, **_new_host_defaults(now))
        else:
            _check_cooldown(host, now)
            host.last_enrolled_at = now
            host.seen_time = now
            host.online_until = max(host.online_until, now + host.online_interval)
        host.node_key_digest = digest(node_key)
        host.team = secret.team
        system_info = host_details.get("system_info") if isinstance(host_details.get("system_info"), dict) else {}
        if not host.uuid and isinstance(system_info.get("uuid"), str):
            host.uuid = system_info["uuid"]
        host = _save_new_or_existing(host, created)
        labels.add_to_all_hosts(host)
        _ingest_enroll_details(host, host_details, now)
        return Enrolled(host=host, node_key=node_key, created=created)

    return atomic_with_retry(enroll)


def _check_cooldown(host: Host, now: Any) -> None:
    cooldown = settings.FLEETSITE_ENROLL_COOLDOWN
    if cooldown and host.last_enrolled_at > now - timedelta(seconds=cooldown):
        raise AgentError(
            f"enroll failed: host {host.osquery_host_id} re-enrolled within the {cooldown}s cooldown",
            status=401,
            node_invalid=True,
        )


def _save_new_or_existing(host: Host, created: bool) -> Host:
    """Save; when a concurrent enroll created the same identity first, take that row instead.

    Agent-supplied columns are fitted first; identifiers were checked by the views, so fitting
    leaves them as sent.
    """
    bounds.fit_instance(host, owner=host.osquery_host_id)
    if not created:
        host.save()
        return host
    try:
        with transaction.atomic():
            host.save()
        summary.forget_counts()
        return host
    except IntegrityError:
        existing = _locked_host(host.osquery_host_id or "")
        if existing is None:
            raise
        existing.node_key_digest = host.node_key_digest
        existing.orbit_node_key_digest = host.orbit_node_key_digest or existing.orbit_node_key_digest
        existing.team = host.team
        existing.last_enrolled_at = host.last_enrolled_at
        existing.save()
        return existing


def _ingest_enroll_details(host: Host, host_details: dict[str, Any], now: Any) -> None:
    """§1.1 step 7: the enroll request's os_version, osquery_info and system_info, as detail queries."""
    update = HostUpdate()
    for table in ("os_version", "osquery_info", "system_info"):
        values = host_details.get(table)
        if isinstance(values, dict) and values:
            INGESTERS[table](host, [values], update, {"now": now})
    save_host_update(host, update)


def enroll_orbit(secret: EnrollSecret, fields: dict[str, str]) -> Enrolled:
    """§2.1 and §7: match by osquery identifier (or hardware UUID), else create the host."""
    identifier = fields.get("osquery_identifier") or fields["hardware_uuid"]
    node_key = new_node_key()
    now = timezone.now()

    def enroll() -> Enrolled:
        host = _locked_host(identifier)
        created = host is None
        if created:
            host = Host(
                osquery_host_id=identifier,
                uuid=fields["hardware_uuid"][:255],
                hardware_serial=fields.get("hardware_serial", "")[:255],
                hostname=fields.get("hostname", "")[:255],
                computer_name=fields.get("computer_name", "")[:255],
                hardware_model=fields.get("hardware_model", "")[:255],
                platform=fields.get("platform", "")[:64],
                platform_like=fields.get("platform_like", "")[:64],
                **_new_host_defaults(now),
            )
        else:
            for name in ("uuid", "hardware_serial", "computer_name", "hardware_model"):
                source = "hardware_uuid" if name == "uuid" else name
                if not getattr(host, name) and fields.get(source):
                    setattr(host, name, fields[source][:255])
        host.orbit_node_key_digest = digest(node_key)
        host.team = secret.team
        host = _save_new_or_existing(host, created)
        labels.add_to_all_hosts(host)
        return Enrolled(host=host, node_key=node_key, created=created)

    return atomic_with_retry(enroll)
