"""Team names for menus, cached: every list page's filter bar shows them."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import Team
from fleetsite.lib import memo

_CACHE_KEY = "teams:names:v1"


def team_names() -> list[tuple[int, str]]:
    """(id, name) of every team by name."""
    return memo.cached(_CACHE_KEY, lambda: list(Team.objects.order_by("name").values_list("pk", "name")))


@receiver([post_save, post_delete], sender=Team)
def _forget_team_names(**_: object) -> None:
    memo.forget(_CACHE_KEY)
