"""One place that decides who may see and change what (used by REST, UI and websockets).

Global roles reach every team; team roles reach only their teams' objects.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.choices import Role
from accounts.models import User

WRITE_ROLES = frozenset({Role.ADMIN, Role.MAINTAINER})


def team_roles(user: User) -> dict[int, str]:
    """The user's role per team id (cached on the user object for the request)."""
    cached = getattr(user, "_team_roles", None)
    if cached is None:
        cached = dict(user.memberships.values_list("team_id", "role"))
        user._team_roles = cached
    return cached


def is_global(user: User) -> bool:
    return bool(user.global_role)


def visible_team_ids(user: User) -> set[int] | None:
    """None when the user sees every team (and hosts with no team); else the team ids they see."""
    if is_global(user):
        return None
    return set(team_roles(user))


def scope_to_teams(queryset: QuerySet, user: User, field: str = "team_id") -> QuerySet:
    """Limit a queryset of team-owned objects to the user's teams."""
    teams = visible_team_ids(user)
    if teams is None:
        return queryset
    return queryset.filter(Q(**{f"{field}__in": teams}))


def can_write_team(user: User, team_id: int | None) -> bool:
    """Admins and maintainers, globally or on that team, may change its objects."""
    if user.global_role in WRITE_ROLES:
        return True
    return team_id is not None and team_roles(user).get(team_id) in WRITE_ROLES


def can_read_team(user: User, team_id: int | None) -> bool:
    if is_global(user):
        return True
    return team_id is not None and team_id in team_roles(user)


def is_global_admin(user: User) -> bool:
    return user.global_role == Role.ADMIN


def can_manage_team_secrets(user: User, team_id: int | None) -> bool:
    """Secrets enroll hosts, so observers never see them."""
    return can_write_team(user, team_id)
