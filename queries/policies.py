"""Policy queries on check-ins, pass/fail per host, host counts and the failing-policy webhook."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from accounts import permissions
from fleetsite.lib import bounds, memo
from hosts.constants import POLICY_QUERY_PREFIX
from hosts.detail_queries import LINUX_PLATFORMS
from hosts.distributed import PendingQueries, WriteResults, jitter
from hosts.models import Host
from queries.models import Policy, PolicyMembership

logger = logging.getLogger(__name__)

_CACHE_KEY = "policies:v1"


@dataclass(frozen=True)
class PolicyQuery:
    id: int
    team_id: int | None
    platforms: frozenset[str]
    query: str
    script_id: int | None = None
    installer_id: int | None = None

    def applies_to(self, host: Host) -> bool:
        if self.team_id is not None and self.team_id != host.team_id:
            return False
        if not self.platforms:
            return True
        if host.platform in self.platforms:
            return True
        return "linux" in self.platforms and host.platform in LINUX_PLATFORMS


def _platforms(value: str) -> frozenset[str]:
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def all_policies() -> list[PolicyQuery]:
    """Every policy's query, cached: check-ins must not read the policy table."""
    return memo.cached(
        _CACHE_KEY,
        lambda: [
            PolicyQuery(
                id=pk,
                team_id=team_id,
                platforms=_platforms(platform),
                query=query,
                script_id=script_id,
                installer_id=installer_id,
            )
            for pk, team_id, platform, query, script_id, installer_id in Policy.objects.values_list(
                "id", "team_id", "platform", "query", "script_id", "software_installer_id"
            )
        ],
    )


def policy_names() -> list[tuple[int, int | None, str]]:
    """(id, team id, name) of every policy by name, for filter menus; cached like `all_policies`."""
    return memo.cached(
        _CACHE_KEY, lambda: list(Policy.objects.order_by("name").values_list("pk", "team_id", "name")), variant="names"
    )


@receiver([post_save, post_delete], sender=Policy)
def _forget_policies(**_: object) -> None:
    memo.forget(_CACHE_KEY)


def is_due(host: Host, now: datetime) -> bool:
    interval = settings.FLEETSITE_POLICY_UPDATE_INTERVAL
    due_at = host.policy_updated_at + timedelta(seconds=interval) + jitter(host.pk, interval)
    return host.refetch_requested or due_at < now


def add_pending(host: Host, pending: PendingQueries, now: datetime) -> None:
    """The host's policies (global and its team's, platform-matched) when the policy interval elapsed."""
    if not is_due(host, now):
        return
    for policy in all_policies():
        if policy.applies_to(host):
            pending.add(f"{POLICY_QUERY_PREFIX}{policy.id}", policy.query)


def collect(results: WriteResults) -> dict[int, bool | None]:
    """Policy answers: rows mean pass, no rows fail, a failed query None (unknown)."""
    answers: dict[int, bool | None] = {}
    for name, rows in results.rows.items():
        if not name.startswith(POLICY_QUERY_PREFIX):
            continue
        policy_id = bounds.parse_id(name[len(POLICY_QUERY_PREFIX) :])
        if policy_id is not None:
            answers[policy_id] = None if name in results.failed else bool(rows)
    return answers


def save(host: Host, answers: dict[int, bool | None], now: datetime) -> None:
    """Upsert the host's memberships in three statements; a flip to failing arms the webhook and automations."""
    # Only answers to policies this host runs count: not another team's, not unknown ids.
    runs = {policy.id: policy for policy in all_policies() if policy.id in answers and policy.applies_to(host)}
    current = {
        membership.policy_id: membership
        for membership in PolicyMembership.objects.filter(host=host, policy_id__in=list(runs))
    }
    changed, created, flipped = [], [], []
    for policy_id in runs:
        passes = answers[policy_id]
        membership = current.get(policy_id)
        if passes is False and (membership is None or membership.passes is not False):
            flipped.append(runs[policy_id])
        if membership is None:
            created.append(
                PolicyMembership(
                    policy_id=policy_id, host=host, passes=passes, updated_at=now, webhook_pending=passes is False
                )
            )
        else:
            if passes is False and membership.passes is not False:
                membership.webhook_pending = True
            membership.passes, membership.updated_at = passes, now
            changed.append(membership)
    if changed:
        PolicyMembership.objects.bulk_update(changed, ["passes", "updated_at", "webhook_pending"])
    if created:
        PolicyMembership.objects.bulk_create(created, ignore_conflicts=True)
    Host.objects.filter(pk=host.pk).update(policy_updated_at=now)
    _queue_automations(host, flipped)


def _queue_automations(host: Host, flipped: list[PolicyQuery]) -> None:
    """Policies that just started failing with a script or package: queued once per failure, after commit."""
    automations = [
        (policy.id, policy.script_id, policy.installer_id)
        for policy in flipped
        if policy.script_id is not None or policy.installer_id is not None
    ]
    if not automations:
        return
    from software_installers.tasks import run_policy_automations

    transaction.on_commit(lambda: run_policy_automations.delay(host.pk, automations))


def counted_for(user: Any, policies: Iterable[Policy]) -> list[Policy]:
    """The policies with passing/failing counts over the hosts `user` sees.

    Stored counts (`refresh_counts`) cover the whole fleet; a team's users get theirs counted
    now, over their teams' hosts only (one grouped query), so other teams' results do not show.
    """
    policies = list(policies)
    teams = permissions.visible_team_ids(user)
    if teams is None or not policies:
        return policies
    rows = (
        PolicyMembership.objects.filter(policy_id__in=[policy.pk for policy in policies], host__team_id__in=teams)
        .values("policy_id")
        .annotate(passing=Count("id", filter=Q(passes=True)), failing=Count("id", filter=Q(passes=False)))
        .order_by()
    )
    counts = {row["policy_id"]: row for row in rows}
    for policy in policies:
        row = counts.get(policy.pk, {})
        policy.passing_host_count, policy.failing_host_count = row.get("passing", 0), row.get("failing", 0)
    return policies


def refresh_counts() -> int:
    """Recompute passing and failing host counts (Fleet does this periodically too)."""
    now = timezone.now()
    counts = {
        row["policy_id"]: row
        for row in PolicyMembership.objects.values("policy_id").annotate(
            passing=Count("id", filter=Q(passes=True)), failing=Count("id", filter=Q(passes=False))
        )
    }
    policies = list(Policy.objects.all())
    for policy in policies:
        row = counts.get(policy.pk, {})
        policy.passing_host_count = row.get("passing", 0)
        policy.failing_host_count = row.get("failing", 0)
        policy.host_count_updated_at = now
    Policy.objects.bulk_update(policies, ["passing_host_count", "failing_host_count", "host_count_updated_at"])
    return len(policies)


def failing_hosts_report(limit: int = 1000) -> list[dict]:
    """What the failing-policy webhook sends: one entry per policy with hosts that started failing."""
    pending = (
        PolicyMembership.objects.filter(webhook_pending=True, passes=False, policy__webhook_enabled=True)
        .select_related("policy", "host")
        .order_by("policy_id", "host_id")[:limit]
    )
    grouped: dict[int, dict] = {}
    for membership in pending:
        policy = membership.policy
        entry = grouped.setdefault(
            policy.pk,
            {"policy": {"id": policy.pk, "name": policy.name, "query": policy.query}, "hosts": [], "_ids": []},
        )
        entry["hosts"].append({"id": membership.host_id, "hostname": membership.host.hostname})
        entry["_ids"].append(membership.pk)
    return list(grouped.values())
