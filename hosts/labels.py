"""Dynamic label queries for check-ins and membership updates from their results."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from accounts import permissions
from accounts.models import User
from fleetsite.lib import memo
from fleetsite.lib.rows import delete_where, insert_many
from hosts.choices import LabelMembershipType
from hosts.constants import ALL_HOSTS_LABEL
from hosts.models import Host, Label, LabelMembership

_CACHE_KEY = "labels:dynamic:v1"


@dataclass(frozen=True)
class LabelQuery:
    id: int
    platform: str
    query: str
    # A team label runs only on that team's hosts; None: every host.
    team_id: int | None = None

    def applies_to(self, platform: str, team_id: int | None = None) -> bool:
        if self.team_id is not None and self.team_id != team_id:
            return False
        return not self.platform or platform in {p.strip() for p in self.platform.split(",")}


def dynamic_labels() -> list[LabelQuery]:
    """Every dynamic label with a query, cached so check-ins do not read the label table."""
    return memo.cached(
        _CACHE_KEY,
        lambda: [
            LabelQuery(id=row[0], platform=row[1], query=row[2], team_id=row[3])
            for row in Label.objects.filter(label_membership_type=LabelMembershipType.DYNAMIC)
            .exclude(query="")
            .values_list("id", "platform", "query", "team_id")
        ],
        variant="queries-with-team",
    )


def host_counts(user: User, label_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Hosts per label among those `user` sees: one grouped count, no per-label query.

    For users who see every host it reads only the (label, host) index; the join with
    hosts and the DISTINCT it replaced took 200 ms at 100,000 hosts.
    """
    members = LabelMembership.objects.order_by()
    teams = permissions.visible_team_ids(user)
    if teams is not None:
        members = members.filter(host__team_id__in=teams)
    if label_ids is not None:
        members = members.filter(label_id__in=list(label_ids))
    return dict(members.values("label_id").annotate(n=Count("pk")).values_list("label_id", "n"))


def label_names() -> list[tuple[int, int | None, str]]:
    """(id, team id, name) of every label, builtin ones first, for filter menus; cached like `dynamic_labels`."""
    return memo.cached(
        _CACHE_KEY,
        lambda: list(Label.objects.order_by("label_type", "name").values_list("pk", "team_id", "name")),
        variant="names-with-team",
    )


@receiver([post_save, post_delete], sender=Label)
def _forget_labels(**_: object) -> None:
    memo.forget(_CACHE_KEY)


def record_results(host: Host, member_of: set[int], not_member_of: set[int]) -> None:
    """Apply label query results: rows mean member; no rows or a failed query mean not (as in Fleet).

    An agent joins only labels it was asked about: not a manual label, another team's label or
    one that does not exist. It may leave any dynamic label (its platform may have changed).
    """
    dynamic = dynamic_labels()
    member_of = member_of & {label.id for label in dynamic if label.applies_to(host.platform, host.team_id)}
    not_member_of = not_member_of & {label.id for label in dynamic}
    if not_member_of:
        delete_where(LabelMembership, {"host": host.pk}, "label", sorted(not_member_of))
    if member_of:
        now = timezone.now()
        insert_many(
            LabelMembership,
            ("host", "label", "updated_at"),
            [(host.pk, label_id, now) for label_id in sorted(member_of)],
            ignore_conflicts=True,
        )


def add_to_all_hosts(host: Host) -> None:
    """Every enrolled host is in "All Hosts" (fleet-protocol §1.1 step 6)."""
    label_id = Label.objects.filter(name=ALL_HOSTS_LABEL).values_list("id", flat=True).first()
    if label_id is not None:
        LabelMembership.objects.get_or_create(host=host, label_id=label_id)
