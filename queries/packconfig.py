"""The user packs a host is sent in its osquery config (the `packs` key, beside queries.schedule's).

Every enabled pack with queries is prepared once per cache generation with its targets, so a config
check-in costs no SQL for packs; only when some pack targets labels does it ask, in one query, which
of those labels the host is in (membership changes all the time and is never cached). Any change to a
pack, its queries or targets, or a saved query forgets the prepared packs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from fleetsite.lib import memo
from hosts.models import Host, LabelMembership
from queries.models import Pack, PackQuery, Query

_CACHE_KEY = "packs:config:v1"


@dataclass(frozen=True)
class PreparedPack:
    name: str
    config: dict[str, Any]
    host_ids: frozenset[int]
    label_ids: frozenset[int]
    team_ids: frozenset[int]


def _query_entry(scheduled: PackQuery) -> dict[str, Any]:
    """osquery's pack query options; unset ones are left to osquery's defaults, as Fleet does."""
    entry: dict[str, Any] = {"query": scheduled.query.query, "interval": scheduled.interval}
    for field in ("platform", "version", "removed", "shard", "denylist"):
        value = getattr(scheduled, field)
        if value is not None:
            entry[field] = value
    if scheduled.snapshot:
        entry["snapshot"] = True
    return entry


def _prepare() -> list[PreparedPack]:
    prepared = []
    enabled = Pack.objects.filter(disabled=False, scheduled__isnull=False).distinct().order_by("name")
    for pack in enabled.prefetch_related("scheduled__query"):
        config: dict[str, Any] = {"queries": {s.name: _query_entry(s) for s in pack.scheduled.all()}}
        if pack.platform:
            config["platform"] = pack.platform
        prepared.append(
            PreparedPack(
                name=pack.name,
                config=config,
                host_ids=frozenset(pack.hosts.values_list("pk", flat=True)),
                label_ids=frozenset(pack.labels.values_list("pk", flat=True)),
                team_ids=frozenset(pack.teams.values_list("pk", flat=True)),
            )
        )
    return prepared


def packs_for_host(host: Host) -> dict[str, Any]:
    """{pack name: pack config} for the user packs that target `host` directly, by team or by label."""
    prepared: list[PreparedPack] = memo.cached(_CACHE_KEY, _prepare)
    if not prepared:
        return {}
    wanted_labels = frozenset().union(*(pack.label_ids for pack in prepared))
    member_of: set[int] = set()
    if wanted_labels:
        member_of = set(
            LabelMembership.objects.filter(host_id=host.pk, label_id__in=wanted_labels).values_list(
                "label_id", flat=True
            )
        )
    return {
        pack.name: pack.config
        for pack in prepared
        if host.pk in pack.host_ids
        or (host.team_id is not None and host.team_id in pack.team_ids)
        or not member_of.isdisjoint(pack.label_ids)
    }


@receiver([post_save, post_delete], sender=Pack)
@receiver([post_save, post_delete], sender=PackQuery)
@receiver([post_save, post_delete], sender=Query)
@receiver(m2m_changed, sender=Pack.hosts.through)
@receiver(m2m_changed, sender=Pack.labels.through)
@receiver(m2m_changed, sender=Pack.teams.through)
def _forget_packs(**_: object) -> None:
    memo.forget(_CACHE_KEY)
