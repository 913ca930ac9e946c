"""One place that decides who may see and change what (used by REST, UI and websockets).

Global roles reach every team; team roles reach only their teams' objects. An API token may
carry a role of its own, and then the lower of the token's and the user's role applies.

Callers answer 404 when `can_read_team` is false (the object's existence must not leak) and 403
when the user may see the object but `can(user, WRITE, kind, team_id)` is false (Fleet's rule).
"""

from __future__ import annotations

from enum import StrEnum

from django.db.models import Q, QuerySet

from accounts.choices import Role
from accounts.models import User

WRITE_ROLES = frozenset({Role.ADMIN, Role.MAINTAINER})
ALL_ROLES = frozenset(Role.values)
RANK = {Role.OBSERVER: 1, Role.OBSERVER_PLUS: 2, Role.MAINTAINER: 3, Role.ADMIN: 4}


class Action(StrEnum):
    READ = "read"
    WRITE = "write"


class Kind(StrEnum):
    """Object kinds the permission table knows; every view names one."""

    HOST = "host"
    TEAM = "team"  # a team's settings, members and agent options
    SECRET = "enroll_secret"
    USER = "user"
    INVITE = "invite"
    ACTIVITY = "activity"
    CONFIG = "config"
    SOFTWARE = "software"
    LABEL = "label"
    QUERY = "query"
    POLICY = "policy"
    LIVE_QUERY = "live_query"
    PACK = "pack"  # legacy query packs: they target hosts across teams, so only global roles reach them
    SCRIPT = "script"  # saved scripts, and running scripts on hosts (write)
    VARIABLE = "secret_variable"  # custom ($FLEET_SECRET_…) variables, fleet-wide
    INSTALLER = "software_installer"  # uploaded packages, and installing them on hosts (write)


# kind -> (roles that may read, roles that may write), for a role held on the object's team or
# globally. `GLOBAL_ONLY` kinds exist only fleet-wide: team roles give nothing there.
RULES: dict[Kind, tuple[frozenset[str], frozenset[str]]] = {
    Kind.HOST: (ALL_ROLES, WRITE_ROLES),
    Kind.TEAM: (ALL_ROLES, frozenset({Role.ADMIN})),
    # Secrets enroll hosts, so observers never see them.
    Kind.SECRET: (WRITE_ROLES, WRITE_ROLES),
    Kind.USER: (frozenset({Role.ADMIN}), frozenset({Role.ADMIN})),
    Kind.INVITE: (frozenset({Role.ADMIN}), frozenset({Role.ADMIN})),
    Kind.ACTIVITY: (ALL_ROLES, frozenset()),  # append-only: nobody edits activities
    Kind.CONFIG: (ALL_ROLES, frozenset({Role.ADMIN})),
    Kind.SOFTWARE: (ALL_ROLES, frozenset()),
    Kind.LABEL: (ALL_ROLES, WRITE_ROLES),
    Kind.QUERY: (ALL_ROLES, WRITE_ROLES),
    Kind.POLICY: (ALL_ROLES, WRITE_ROLES),
    Kind.LIVE_QUERY: (frozenset({Role.ADMIN, Role.MAINTAINER, Role.OBSERVER_PLUS}),) * 2,
    # Fleet's authz: packs are read and written by global admins and maintainers only.
    Kind.PACK: (WRITE_ROLES, WRITE_ROLES),
    # Fleet: everyone sees scripts and their results; admins and maintainers add them and run them.
    Kind.SCRIPT: (ALL_ROLES, WRITE_ROLES),
    # Fleet's authz: global admins and maintainers list, add and delete secret variables.
    Kind.VARIABLE: (WRITE_ROLES, WRITE_ROLES),
    # Fleet: everyone sees installers; admins and maintainers upload them and install them on hosts.
    Kind.INSTALLER: (ALL_ROLES, WRITE_ROLES),
}
GLOBAL_ONLY = frozenset({Kind.USER, Kind.INVITE, Kind.CONFIG, Kind.PACK, Kind.VARIABLE})


def _capped(role: str | None, cap: str | None) -> str | None:
    if not role or not cap:
        return role or None
    return role if RANK[role] <= RANK[cap] else cap


def apply_token_role(user: User, role: str | None) -> None:
    """Limit this request's user object to `role` (an API token's scope)."""
    user._role_cap = role or None
    user.__dict__.pop("_team_roles", None)


def token_cap(user: User) -> str | None:
    """The role cap of the API token this request came with, or None (a login session, the UI)."""
    return getattr(user, "_role_cap", None)


_TOP_ROLE = max(RANK, key=RANK.__getitem__)


def highest_role(user: User) -> str | None:
    """The strongest role the request may act with anywhere (global or on any team), after the cap.

    A global admin's teams cannot rank higher, so they are not read: every page's navigation asks.
    """
    fleet_wide = global_role(user)
    if fleet_wide == _TOP_ROLE:
        return fleet_wide
    roles = [role for role in (fleet_wide, *team_roles(user).values()) if role]
    return max(roles, key=RANK.__getitem__, default=None)


def may_grant_token_role(user: User, role: str | None) -> bool:
    """A new token may not act above the request that creates it (no minting past a token's cap)."""
    if not role:
        return token_cap(user) is None
    strongest = highest_role(user)
    return strongest is not None and RANK[role] <= RANK[strongest]


def may_change_own_account(user: User) -> bool:
    """A role-capped token may not change its owner's e-mail, name or password: that would lift its cap."""
    return token_cap(user) is None


def global_role(user: User) -> str | None:
    """The user's fleet-wide role for this request, after any token scope."""
    return _capped(user.global_role, getattr(user, "_role_cap", None))


def team_roles(user: User) -> dict[int, str]:
    """The user's role per team id (cached on the user object for the request)."""
    cached = getattr(user, "_team_roles", None)
    if cached is None:
        cap = getattr(user, "_role_cap", None)
        cached = {team_id: _capped(role, cap) for team_id, role in user.memberships.values_list("team_id", "role")}
        user._team_roles = cached
    return cached


def role_on(user: User, team_id: int | None) -> str | None:
    """The role that applies to an object of `team_id` (None: a fleet-wide object)."""
    role = global_role(user)
    if role:
        return role
    return team_roles(user).get(team_id) if team_id is not None else None


def can(user: User, action: Action | str, kind: Kind | str, team_id: int | None = None) -> bool:
    """The permission table: may `user` read/write an object of `kind` owned by `team_id`?"""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    kind = Kind(kind)
    readers, writers = RULES[kind]
    allowed = readers if Action(action) == Action.READ else writers
    role = global_role(user) if kind in GLOBAL_ONLY else role_on(user, team_id)
    return role in allowed


def is_global(user: User) -> bool:
    return bool(global_role(user))


def visible_team_ids(user: User) -> set[int] | None:
    """None when the user sees every team (and hosts with no team); else the team ids they see."""
    if is_global(user):
        return None
    return set(team_roles(user))


def writable_team_ids(user: User, kind: Kind = Kind.HOST) -> set[int] | None:
    """None when the user may write `kind` everywhere; else the team ids where they may."""
    if global_role(user) in RULES[kind][1]:
        return None
    return {team_id for team_id, role in team_roles(user).items() if role in RULES[kind][1]}


def scope_to_teams(queryset: QuerySet, user: User, field: str = "team_id") -> QuerySet:
    """Limit a queryset of team-owned objects to the user's teams."""
    teams = visible_team_ids(user)
    if teams is None:
        return queryset
    return queryset.filter(Q(**{f"{field}__in": teams}))


def can_write_team(user: User, team_id: int | None) -> bool:
    """Admins and maintainers, globally or on that team, may change its hosts and team objects."""
    return can(user, Action.WRITE, Kind.HOST, team_id)


def can_read_team(user: User, team_id: int | None) -> bool:
    if is_global(user):
        return True
    return team_id is not None and team_id in team_roles(user)


def is_global_admin(user: User) -> bool:
    return global_role(user) == Role.ADMIN


def can_manage_team_secrets(user: User, team_id: int | None) -> bool:
    """Secrets enroll hosts, so observers never see them."""
    return can(user, Action.WRITE, Kind.SECRET, team_id)


def can_admin_team(user: User, team_id: int | None) -> bool:
    """Rename a team, change its agent options and members: global admins and that team's admins."""
    return can(user, Action.WRITE, Kind.TEAM, team_id)
