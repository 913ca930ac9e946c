"""Scheduled queries as osquery packs in the config (fleet-protocol §1.2).

Pack "Global" carries the global scheduled queries and pack "team-<id>" the team's. The packs
are cached per team, so a config check-in costs no more SQL as queries grow; any change to a
query forgets the cache.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from fleetsite.lib import memo
from queries.choices import Logging
from queries.models import Query

_CACHE_KEY = "schedule:packs:v2"


def is_scheduled() -> Q:
    """§4.4: scheduled when interval > 0 and automations are on or the results are kept as a report."""
    return Q(saved=True, interval__gt=0) & (Q(automations_enabled=True) | Q(discard_data=False))


def pack_entry(query: Query) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "query": query.query,
        "interval": query.interval,
        "platform": query.platform,
        "version": query.min_osquery_version,
    }
    if query.logging == Logging.SNAPSHOT:
        entry["snapshot"] = True
    else:
        entry["removed"] = query.logging == Logging.DIFFERENTIAL
    return entry


def _packs(team_id: int | None) -> dict[str, Any]:
    scope = Q(team__isnull=True) if team_id is None else Q(team__isnull=True) | Q(team_id=team_id)
    packs: dict[str, Any] = {}
    for query in Query.objects.filter(is_scheduled() & scope).order_by("name"):
        pack = "Global" if query.team_id is None else f"team-{query.team_id}"
        packs.setdefault(pack, {"queries": {}})["queries"][query.name] = pack_entry(query)
    return packs


def packs_for(team_id: int | None) -> dict[str, Any]:
    """The packs a host of `team_id` is sent: Global plus its team's."""
    return memo.cached(_CACHE_KEY, lambda: _packs(team_id), variant=team_id or 0)


@receiver([post_save, post_delete], sender=Query)
def _forget_packs(**_: object) -> None:
    memo.forget(_CACHE_KEY)
