"""User role specs (`POST /users/roles/spec`, fleetctl's `user_roles` kind): roles by email and team name.

Each listed user gets exactly the global role or the team roles the spec gives, all users or none.
A user whose roles already match is not touched, so applying the same file again records nothing.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts import permissions, services
from accounts.models import Team, User
from fleetsite.api.errors import forbidden, not_found, validation_failed


def _wanted(entry: Any, teams: dict[str, Team], email: str) -> tuple[str | None, list[services.TeamRole]]:
    if not isinstance(entry, dict):
        raise validation_failed("roles", f"the roles of {email} must be an object")
    team_roles = []
    for item in entry.get("teams") or []:
        if not isinstance(item, dict) or not isinstance(item.get("team"), str):
            raise validation_failed("teams", f'each team role of {email} needs "team" and "role"')
        team = teams.get(item["team"].lower())
        if team is None:
            raise not_found(f"Team {item['team']} was not found in the datastore")
        team_roles.append(services.TeamRole(team.pk, item.get("role") or ""))
    return entry.get("global_role") or None, team_roles


def apply(actor: User, spec: Any) -> int:
    """Set the roles of every user the spec lists; returns how many users changed."""
    if not permissions.can(actor, permissions.Action.WRITE, permissions.Kind.USER):
        raise forbidden()
    roles = spec.get("roles") if isinstance(spec, dict) else None
    if not isinstance(roles, dict):
        raise validation_failed("spec", 'expected {"roles": {email: {global_role, teams}}}')
    names = {
        item["team"]
        for entry in roles.values()
        if isinstance(entry, dict)
        for item in entry.get("teams") or []
        if isinstance(item, dict) and isinstance(item.get("team"), str)
    }
    teams = {team.name.lower(): team for team in Team.objects.filter(name__in=names)}
    users = {user.email: user for user in User.objects.filter(email__in=[email.lower() for email in roles])}
    changed = 0
    with transaction.atomic():
        for email, entry in roles.items():
            user = users.get(email.lower())
            if user is None:
                raise not_found(f"User {email} was not found in the datastore")
            global_role, team_roles = _wanted(entry, teams, email)
            current = dict(user.memberships.values_list("team_id", "role"))
            if (user.global_role or None) == global_role and current == {t.team_id: t.role for t in team_roles}:
                continue
            try:
                services.update_user(actor, user, {"global_role": global_role, "teams": team_roles})
            except services.InvalidInput as exc:
                raise validation_failed(exc.field, f"{email}: {exc.reason}") from exc
            changed += 1
    return changed
