"""Live-query campaigns (fleet-protocol §4.5): targeting, delivery on check-in, results.

A campaign's targets are fixed when it starts. Hosts get `fleet_distributed_query_<id>` on
their next distributed/read until they answer; answers are stored and published to the
campaign's channel group, so a websocket hears them whichever process received them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from accounts import permissions
from accounts.models import User
from fleetsite.lib import bounds, memo
from fleetsite.lib.rows import insert_many, json_text_value, json_text_values, json_value, select_where
from hosts.constants import DISTRIBUTED_QUERY_PREFIX, MISSING_AFTER
from hosts.distributed import PendingQueries, WriteResults
from hosts.models import Host, LabelMembership
from queries import live
from queries.choices import CampaignStatus, TargetStatus
from queries.models import Campaign, CampaignResult, CampaignRow, CampaignTarget, Query

# How long an unwatched, finished-or-not campaign lives before the cleanup job completes it.
DEFAULT_LIFETIME = timedelta(hours=1)
_ACTIVE_KEY = "campaigns:active:v1"
# Other processes notice a new campaign within this time; it bounds the delivery delay.
_ACTIVE_LOCAL_SECONDS = 1.0


class NoHostsTargeted(ValueError):
    """fleet-protocol §4.5: `400 no hosts targeted`."""


def target_hosts(user: User, selected: dict[str, list[int]], query: Query) -> QuerySet:
    """Hosts named directly, in the labels or in the teams, limited to those `user` may run `query` on.

    A role is per team: a maintainer of one team who observes another runs ad-hoc SQL only on
    the first, and on the second only saved queries observers may run.
    """
    host_ids = [int(i) for i in selected.get("hosts") or []]
    label_ids = [int(i) for i in selected.get("labels") or []]
    team_ids = [int(i) for i in selected.get("teams") or []]
    condition = Q(pk__in=host_ids)
    if label_ids:
        condition |= Q(pk__in=LabelMembership.objects.filter(label_id__in=label_ids).values("host_id"))
    if team_ids:
        condition |= Q(team_id__in=team_ids)
    hosts = Host.objects.filter(condition)
    teams = runnable_team_ids(user, query)
    return hosts if teams is None else hosts.filter(team_id__in=teams)


def runnable_team_ids(user: User, query: Query) -> set[int] | None:
    """The teams on whose hosts `user` may run `query`; None for every host.

    Any role may run a saved query marked for observers; anything else needs a live-query role.
    """
    if query.saved and query.observer_can_run:
        return permissions.visible_team_ids(user)
    return permissions.writable_team_ids(user, permissions.Kind.LIVE_QUERY)


@transaction.atomic
def start(user: User, query: Query, selected: dict[str, list[int]], keep_open: timedelta | None = None) -> Campaign:
    """Create a campaign and its targets; raises NoHostsTargeted when the selection is empty."""
    host_ids = list(target_hosts(user, selected, query).values_list("id", flat=True))
    if not host_ids:
        raise NoHostsTargeted("no hosts targeted")
    now = timezone.now()
    keep_open_until = now + keep_open if keep_open else None
    campaign = Campaign.objects.create(
        query=query,
        user=user,
        selected=selected,
        keep_open_until=keep_open_until,
        expires_at=max(now + DEFAULT_LIFETIME, keep_open_until or now),
        created_at=now,
    )
    CampaignTarget.objects.bulk_create(
        [CampaignTarget(campaign=campaign, host_id=host_id) for host_id in host_ids], batch_size=2000
    )
    forget_active()  # again at commit, when other processes can see the new campaign
    return campaign


def stop(campaign: Campaign) -> None:
    """Complete a campaign: it is no longer sent to hosts."""
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.COMPLETE, updated_at=timezone.now())
    forget_active()


def forget_active() -> None:
    memo.forget(_ACTIVE_KEY)


def _load_active() -> dict[int, str]:
    open_campaigns = Campaign.objects.filter(status__lt=CampaignStatus.COMPLETE, expires_at__gt=timezone.now())
    return dict(open_campaigns.values_list("id", "query__query"))


def active_campaigns() -> dict[int, str]:
    """Open campaigns (id → SQL), held a second in-process: idle check-ins then read no table."""
    return memo.cached(_ACTIVE_KEY, _load_active, local_seconds=_ACTIVE_LOCAL_SECONDS, shared_seconds=30)


def add_pending(host: Host, pending: PendingQueries) -> None:
    """The open campaigns this host has not answered yet: no query at all when none are open."""
    active = active_campaigns()
    if not active:
        return
    for campaign_id in _waiting_for(host):
        if campaign_id in active:
            pending.add(f"{DISTRIBUTED_QUERY_PREFIX}{campaign_id}", active[campaign_id])


def _waiting_for(host: Host) -> list[int]:
    """The campaigns still waiting for this host's answer, by the (host, status) index.

    Asked by every check-in of every host while a campaign is open: in SQL built once, since
    building the queryset cost as much as running it (docs/profiles/README.md).
    """
    rows = select_where(CampaignTarget, ("campaign",), {"host": host.pk, "status": int(TargetStatus.PENDING)})
    return [campaign_id for (campaign_id,) in rows]


@dataclass
class CampaignAnswer:
    campaign_id: int
    rows: list[dict[str, Any]]
    error: str | None
    stats: dict[str, Any] | None


def collect(host: Host, results: WriteResults) -> list[CampaignAnswer]:
    answers = []
    for name, rows in results.rows.items():
        if not name.startswith(DISTRIBUTED_QUERY_PREFIX):
            continue
        campaign_id = bounds.parse_id(name[len(DISTRIBUTED_QUERY_PREFIX) :])
        if campaign_id is None:
            continue
        error = None
        if name in results.failed:
            error = results.messages.get(name) or "query failed"
        stats = results.stats.get(name)
        answers.append(CampaignAnswer(campaign_id, rows, error, stats if isinstance(stats, dict) else None))
    return answers


def save(host: Host, answers: list[CampaignAnswer], now: datetime) -> None:
    """Record the answers of campaigns that still target this host (others are dropped).

    Only this host's rows are written: touching the shared campaign row here would make every
    answering host queue on one row lock (and deadlock under load). The websocket marks it running.
    """
    targeted = set(_waiting_for(host))
    kept = [answer for answer in answers if answer.campaign_id in targeted]
    answers[:] = kept
    if not kept:
        return
    for status, group in ((TargetStatus.ANSWERED, False), (TargetStatus.FAILED, True)):
        campaign_ids = [answer.campaign_id for answer in kept if (answer.error is not None) == group]
        if campaign_ids:
            CampaignTarget.objects.filter(host_id=host.pk, campaign_id__in=campaign_ids).update(
                status=status, answered_at=now
            )
    display_name = bounds.fit(CampaignResult, "host_display_name", host.computer_name or host.hostname, host.pk)
    created_at = connection.ops.adapt_datetimefield_value(now)
    results, rows = [], []
    for answer in kept:
        # Each row is written as JSON once: alone for the results page, joined for the answer.
        answer.rows, texts = bounds.fit_json_list(CampaignResult, "rows", answer.rows, host.pk)
        error = bounds.fit(CampaignResult, "error", answer.error, host.pk)
        stats = bounds.fit(CampaignResult, "stats", answer.stats, host.pk)
        whole = b"[" + b",".join(texts) + b"]"
        stored_stats = None if stats is None else json_value(stats)
        results.append(
            (answer.campaign_id, host.pk, display_name, json_text_value(whole), error, stored_stats, created_at)
        )
        if error is None:
            rows += [
                (answer.campaign_id, host.pk, display_name, number, stored, row_search_text(row))
                for number, (row, stored) in enumerate(zip(answer.rows, json_text_values(texts), strict=True))
                if isinstance(row, dict)
            ]
    insert_many(CampaignResult, _RESULT_COLUMNS, results, prepared=True)
    # The rows again, one table row each, for the paged results page, without a model instance each.
    insert_many(CampaignRow, _ROW_COLUMNS, rows, prepared=True)


_RESULT_COLUMNS = ("campaign", "host", "host_display_name", "rows", "error", "stats", "created_at")
_ROW_COLUMNS = ("campaign", "host", "host_display_name", "row_number", "data", "search")


def row_search_text(row: dict[str, Any]) -> str:
    """What the column-text filter matches: the values, lowercased, tab-joined."""
    return "\t".join(map(str, row.values())).lower()


def result_frame(
    campaign_id: int, host_id: int | None, hostname: str, display_name: str, answer: CampaignAnswer
) -> dict[str, Any]:
    """The websocket `result` data, with host name columns added to each row as Fleet does."""
    rows = [{**row, "host_hostname": hostname, "host_display_name": display_name} for row in answer.rows]
    frame: dict[str, Any] = {
        "distributed_query_execution_id": campaign_id,
        "host": {"id": host_id, "hostname": hostname, "display_name": display_name},
        "rows": rows,
        "stats": answer.stats,
    }
    if answer.error is not None:
        frame["error"] = answer.error
    return frame


def publish(host: Host, answers: list[CampaignAnswer]) -> None:
    display_name = host.computer_name or host.hostname
    for answer in answers:
        live.emit(answer.campaign_id, result_frame(answer.campaign_id, host.pk, host.hostname, display_name, answer))


def stored_frames(
    campaign: Campaign,
    after_id: int = 0,
    skip_hosts: set[int | None] | frozenset = frozenset(),
    max_results: int | None = None,
    settled_before: datetime | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Results stored after result id `after_id` from hosts not in `skip_hosts`, as frames, and the last id read.

    A socket that joins late replays them; a joined socket polls them too, because the channel
    layer may drop messages when a burst of answers overflows it. Ids are read first so rows
    already delivered are not loaded again. `max_results`: only the first that many.
    `settled_before`: read no further than the first result received after this instant; the
    channel layer is still bringing those, and loading them here too cost a fifth of the CPU a
    burst of answers took (the later result waits for the next poll, so none is skipped).
    """
    stored = CampaignResult.objects.filter(campaign=campaign, pk__gt=after_id).order_by("pk")
    ids = stored.values_list("pk", "host_id", "created_at")
    triples = list(ids[:max_results] if max_results else ids)
    if settled_before is not None:
        fresh = next((index for index, (_, _, at) in enumerate(triples) if at >= settled_before), len(triples))
        triples = triples[:fresh]
    if not triples:
        return [], after_id
    wanted = [pk for pk, host_id, _ in triples if host_id not in skip_hosts]
    return _frames(campaign, wanted), max(pk for pk, _, _ in triples)


def late_frames(
    campaign: Campaign, after_id: int, through_id: int, skip_hosts: set[int | None] | frozenset
) -> list[dict[str, Any]]:
    """Results with ids after `after_id`, up to `through_id`, from hosts not in `skip_hosts`.

    Ids are handed out at INSERT, so a check-in that commits late (a busy server, a retried
    transaction) can store a result below ids a poll has already read past. `stored_frames` never
    looks there again; a socket still waiting for hosts asks this now and then, over the ids it
    read recently (the campaign's index holds them in id order).
    """
    found = CampaignResult.objects.filter(campaign=campaign, pk__gt=after_id, pk__lte=through_id)
    pairs = found.values_list("pk", "host_id")
    return _frames(campaign, [pk for pk, host_id in pairs if host_id not in skip_hosts])


def _frames(campaign: Campaign, result_ids: list[int]) -> list[dict[str, Any]]:
    """The frames of these results, their rows read as text and parsed by orjson.

    In a burst of answers the socket's poll loads most of them (the channel layer drops what
    overflows it): through the JSONField, the json module's parsing and a whole host row per
    result were a tenth of the server's CPU (docs/profiles/README.md).
    """
    stored = CampaignResult.objects.filter(pk__in=result_ids).order_by("pk")
    columns = stored.values_list(
        "host_id", "host__hostname", "host_display_name", Cast("rows", TextField()), "error", "stats"
    )
    frames = []
    for host_id, hostname, display_name, rows, error, stats in columns:
        answer = CampaignAnswer(campaign.pk, _parsed(rows), error, stats)
        frames.append(
            result_frame(campaign.pk, host_id, display_name if hostname is None else hostname, display_name, answer)
        )
    return frames


def _parsed(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # written before rows were written by orjson (NaN, say)
        return json.loads(text)


def totals(campaign: Campaign, now: datetime | None = None) -> dict[str, int]:
    """§4.5 `totals`: targeted hosts by online/offline/missing, by the usual status rules."""
    now = now or timezone.now()
    counts = Host.objects.filter(campaign_targets__campaign=campaign).aggregate(
        count=Count("id"),
        online=Count("id", filter=Q(online_until__gt=now)),
        missing=Count("id", filter=Q(seen_time__lte=now - MISSING_AFTER)),
    )
    offline = counts["count"] - counts["online"]
    return {
        "count": counts["count"],
        "online": counts["online"],
        "offline": offline,
        "missing_in_action": counts["missing"],
    }


def metrics(campaign: Campaign) -> dict[str, int]:
    """The campaign's `Metrics` object, with Fleet's capitalised Go field names."""
    counts = totals(campaign)
    new = Host.objects.filter(
        campaign_targets__campaign=campaign, created_at__gte=timezone.now() - timedelta(days=1)
    ).count()
    return {
        "TotalHosts": counts["count"],
        "OnlineHosts": counts["online"],
        "OfflineHosts": counts["offline"],
        "MissingInActionHosts": counts["missing_in_action"],
        "NewHosts": new,
    }


def answered(campaign: Campaign) -> int:
    return CampaignTarget.objects.filter(campaign=campaign).exclude(status=TargetStatus.PENDING).count()


def cleanup_expired(now: datetime | None = None) -> int:
    """Complete campaigns past their expiry, so they stop reaching hosts; keeps their results."""
    now = now or timezone.now()
    count = Campaign.objects.filter(status__lt=CampaignStatus.COMPLETE, expires_at__lte=now).update(
        status=CampaignStatus.COMPLETE, updated_at=now
    )
    if count:
        forget_active()
    return count


def delete_old(older_than: timedelta | None = None) -> int:
    """Delete completed campaigns (and their results) after the retention period."""
    cutoff = timezone.now() - (older_than or timedelta(days=settings.FLEETSITE_CAMPAIGN_RETENTION_DAYS))
    _, per_model = Campaign.objects.filter(status=CampaignStatus.COMPLETE, updated_at__lt=cutoff).delete()
    return per_model.get(Campaign._meta.label, 0)
