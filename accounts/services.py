"""Changes to users, invites and teams, shared by the UI and the REST API.

Each function checks its input, writes in one transaction and records the activity, so the two
front ends cannot drift apart. Bad input raises `InvalidInput(field, reason)`, which the REST
API turns into Fleet's 422 and the UI into a form field error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts import permissions, tokens
from accounts.choices import Role
from accounts.models import EmailChange, Invite, Team, TeamMembership, User
from activities import types
from activities.record import record
from fleetsite.lib.publicurl import public_base_url
from fleetsite.lib.tokens import digest, random_key, same_secret

INVITE_TOKEN_BYTES = 32
# Fleet's app.token_key_size: 24 random bytes, sent URL-safe.
EMAIL_CHANGE_TOKEN_BYTES = 24


class InvalidInput(ValueError):
    """Input that names the field it is about."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class AlreadyExists(InvalidInput):
    """The value is taken by another row (Fleet answers 409)."""


@dataclass(frozen=True)
class TeamRole:
    team_id: int
    role: str


# --- Checks ----------------------------------------------------------------------------------


def clean_email(email: str, field: str = "email", exclude_user: User | None = None) -> str:
    value = (email or "").strip().lower()
    try:
        validate_email(value)
    except ValidationError as exc:
        raise InvalidInput(field, "enter a valid email address") from exc
    users = User.objects.filter(email=value)
    if exclude_user is not None:
        users = users.exclude(pk=exclude_user.pk)
    if users.exists():
        raise InvalidInput(field, "a user with this email already exists")
    return value


def clean_password(password: str, user: User | None = None, field: str = "password") -> str:
    try:
        validate_password(password or "", user)
    except ValidationError as exc:
        raise InvalidInput(field, " ".join(exc.messages)) from exc
    return password


def clean_roles(global_role: str | None, teams: list[TeamRole]) -> tuple[str | None, list[TeamRole]]:
    """Fleet's rule: a global role or team roles, never both, never neither."""
    global_role = global_role or None
    if global_role is not None and global_role not in Role.values:
        raise InvalidInput("global_role", f"invalid role {global_role!r}: one of {', '.join(Role.values)}")
    if global_role and teams:
        raise InvalidInput("teams", "a user with a global role cannot also have team roles")
    if not global_role and not teams:
        raise InvalidInput("global_role", "give the user a global role or at least one team role")
    known = set(Team.objects.filter(pk__in=[t.team_id for t in teams]).values_list("pk", flat=True))
    seen: set[int] = set()
    for entry in teams:
        if entry.role not in Role.values:
            raise InvalidInput("teams", f"invalid role {entry.role!r} for team {entry.team_id}")
        if entry.team_id not in known:
            raise InvalidInput("teams", f"team {entry.team_id} does not exist")
        if entry.team_id in seen:
            raise InvalidInput("teams", f"team {entry.team_id} is listed twice")
        seen.add(entry.team_id)
    return global_role, teams


def clean_team_name(name: str, exclude: Team | None = None) -> str:
    value = (name or "").strip()
    if not value:
        raise InvalidInput("name", "team name cannot be empty")
    if len(value) > 255:
        raise InvalidInput("name", "team name is longer than 255 characters")
    teams = Team.objects.filter(name__iexact=value)
    if exclude is not None:
        teams = teams.exclude(pk=exclude.pk)
    if teams.exists():
        raise InvalidInput("name", f"a team named {value!r} already exists")
    return value


# --- Users -----------------------------------------------------------------------------------


def _set_team_roles(user: User, teams: list[TeamRole]) -> None:
    TeamMembership.objects.filter(user=user).exclude(team_id__in=[t.team_id for t in teams]).delete()
    for entry in teams:
        TeamMembership.objects.update_or_create(user=user, team_id=entry.team_id, defaults={"role": entry.role})
    user.__dict__.pop("_team_roles", None)


@transaction.atomic
def create_user(
    actor: User | None,
    email: str,
    password: str,
    name: str = "",
    global_role: str | None = None,
    teams: list[TeamRole] | None = None,
    api_only: bool = False,
) -> User:
    email = clean_email(email)
    global_role, team_roles = clean_roles(global_role, teams or [])
    clean_password(password, User(email=email, name=name))
    user = User.objects.create_user(email, password, name=name.strip(), global_role=global_role, api_only=api_only)
    _set_team_roles(user, team_roles)
    record(actor, types.CREATED_USER, {"user_id": user.pk, "user_name": user.name, "user_email": user.email})
    _record_roles(actor, user, None, {}, global_role, {t.team_id: t.role for t in team_roles})
    return user


def _record_roles(
    actor: User | None,
    user: User,
    old_global: str | None,
    old_teams: dict[int, str],
    new_global: str | None,
    new_teams: dict[int, str],
) -> None:
    who = {"user_id": user.pk, "user_name": user.name, "user_email": user.email}
    if old_global != new_global:
        if new_global:
            record(actor, types.CHANGED_USER_GLOBAL_ROLE, {**who, "role": new_global})
        else:
            record(actor, types.DELETED_USER_GLOBAL_ROLE, {**who, "role": old_global})
    names = dict(Team.objects.filter(pk__in=set(old_teams) | set(new_teams)).values_list("pk", "name"))
    for team_id in set(old_teams) | set(new_teams):
        before, after = old_teams.get(team_id), new_teams.get(team_id)
        if before == after:
            continue
        details = {**who, "team_id": team_id, "team_name": names.get(team_id), "role": after or before}
        if after:
            record(actor, types.CHANGED_USER_TEAM_ROLE, details, team=Team(pk=team_id))
        else:
            record(actor, types.DELETED_USER_TEAM_ROLE, details, team=Team(pk=team_id))


@transaction.atomic
def update_user(actor: User | None, user: User, changes: dict[str, Any]) -> User:
    """Apply `changes` (name, email, password, global_role + teams, api_only, is_active); all or nothing."""
    edited: list[str] = []
    if "name" in changes:
        user.name = (changes["name"] or "").strip()
        edited.append("name")
    if "email" in changes and changes["email"].strip().lower() != user.email:
        user.email = clean_email(changes["email"], exclude_user=user)
        edited.append("email")
    if changes.get("password"):
        user.set_password(clean_password(changes["password"], user))
        edited.append("password")
    if "settings" in changes:
        settings = {**user.ui_settings, **dict(changes["settings"])}
        if settings != user.ui_settings:
            user.ui_settings = settings  # UI preferences: not an account change worth an activity
    for field in ("api_only", "is_active", "force_password_reset"):
        if field in changes and getattr(user, field) != bool(changes[field]):
            setattr(user, field, bool(changes[field]))
            edited.append(field)
    if "global_role" in changes or "teams" in changes:
        old_teams = dict(user.memberships.values_list("team_id", "role"))
        old_global = user.global_role or None
        new_global = changes.get("global_role", old_global)
        new_teams = changes.get("teams")
        if new_teams is None:
            new_teams = [] if new_global else [TeamRole(t, r) for t, r in old_teams.items()]
        new_global, new_teams = clean_roles(new_global, new_teams)
        if old_global == Role.ADMIN and new_global != Role.ADMIN:
            _keep_one_admin(user)
        user.global_role = new_global
        _set_team_roles(user, new_teams)
        _record_roles(actor, user, old_global, old_teams, new_global, {t.team_id: t.role for t in new_teams})
    if changes.get("is_active") is False:
        _keep_one_admin(user)
    user.save()
    if edited:
        record(actor, types.EDITED_USER, {"user_id": user.pk, "user_email": user.email, "fields": edited})
    return user


def _keep_one_admin(user: User) -> None:
    if not User.objects.filter(global_role=Role.ADMIN, is_active=True).exclude(pk=user.pk).exists():
        raise InvalidInput("global_role", "this is the last global admin; make someone else admin first")


@transaction.atomic
def delete_user(actor: User, user: User) -> None:
    if actor.pk == user.pk:
        raise InvalidInput("id", "you cannot delete your own account")
    if user.global_role == Role.ADMIN:
        _keep_one_admin(user)
    details = {"user_id": user.pk, "user_name": user.name, "user_email": user.email}
    user.delete()
    record(actor, types.DELETED_USER, details)


@transaction.atomic
def change_password(user: User, old_password: str, new_password: str) -> None:
    if not user.check_password(old_password or ""):
        raise InvalidInput("old_password", "old password does not match")
    if old_password == new_password:
        raise InvalidInput("new_password", "the new password must differ from the old one")
    user.set_password(clean_password(new_password, user, "new_password"))
    user.force_password_reset = False
    user.save()
    record(user, types.CHANGED_PASSWORD, {"user_id": user.pk, "user_email": user.email})


def require_password_reset(user: User, require: bool) -> User:
    """Flag (or unflag) `user` so that their next login must set a new password; flagging ends their sessions."""
    with transaction.atomic():
        user.force_password_reset = require
        user.save(update_fields=["force_password_reset", "updated_at"])
        if require:
            tokens.revoke_sessions(user)
    return user


@transaction.atomic
def perform_required_password_reset(user: User, new_password: str) -> User:
    """The flagged user sets a new password (Django's validators), which lifts the flag."""
    if user.check_password(new_password or ""):
        raise InvalidInput("new_password", "Cannot reuse old password")
    user.set_password(clean_password(new_password, user, "new_password"))
    user.force_password_reset = False
    user.save()
    record(user, types.CHANGED_PASSWORD, {"user_id": user.pk, "user_email": user.email})
    return user


# --- E-mail changes --------------------------------------------------------------------------


@transaction.atomic
def request_email_change(user: User, new_email: str, base_url: str = "") -> str:
    """Store a pending change to `new_email` and mail its token there; returns the token.

    As in Fleet, the address must be free of users and pending invites, and the login email
    changes only when the token comes back (GET /email/change/{token}).
    """
    email = (new_email or "").strip().lower()
    if User.objects.filter(email=email).exclude(pk=user.pk).exists() or Invite.objects.filter(email=email).exists():
        raise AlreadyExists("email", "a user or invite with this email already exists")
    email = clean_email(email, exclude_user=user)
    token = random_key(EMAIL_CHANGE_TOKEN_BYTES).replace("+", "-").replace("/", "_").rstrip("=")
    EmailChange.objects.update_or_create(
        user=user,
        defaults={
            "new_email": email,
            "token_digest": digest(token),
            "created_at": timezone.now(),
            "expires_at": timezone.now() + settings.FLEETSITE_INVITE_TTL,
        },
    )
    link = f"{base_url.rstrip('/')}/email/change/{token}"
    transaction.on_commit(lambda: _send_email_change(email, link, token))
    return token


def _send_email_change(email: str, link: str, token: str) -> None:
    send_mail(
        "Confirm Fleet Email Change",
        "Someone asked to make this the email address of a Fleetsite account.\n\n"
        f"Confirm it here: {link}\n(or send the token {token} to GET /api/latest/fleet/email/change/<token>)\n\n"
        "If it was not you, ignore this email; nothing changes.",
        None,
        [email],
    )


@transaction.atomic
def confirm_email_change(user: User, token: str) -> str:
    """Apply `user`'s pending change if `token` is its token and unexpired; returns the new email."""
    change = EmailChange.objects.select_for_update().filter(user=user).first()
    if change is None or not same_secret(digest(token or ""), change.token_digest):
        raise InvalidInput("token", "email change token is invalid")
    if change.expires_at <= timezone.now():
        change.delete()
        raise InvalidInput("token", "email change token has expired")
    old = user.email
    user.email = clean_email(change.new_email, exclude_user=user)
    user.save(update_fields=["email", "updated_at"])
    change.delete()
    details = {"user_id": user.pk, "user_email": user.email, "fields": ["email"], "old_email": old}
    record(user, types.EDITED_USER, details)
    return user.email


# --- Invites ---------------------------------------------------------------------------------


@transaction.atomic
def create_invite(
    actor: User,
    email: str,
    name: str = "",
    global_role: str | None = None,
    teams: list[TeamRole] | None = None,
    base_url: str = "",
) -> tuple[Invite, str]:
    """Create an invite and email its link; returns the invite and the link token (shown once)."""
    email = clean_email(email)
    if Invite.objects.filter(email=email).exists():
        raise InvalidInput("email", "this email already has a pending invite")
    global_role, team_roles = clean_roles(global_role, teams or [])
    token = random_key(INVITE_TOKEN_BYTES).replace("+", "-").replace("/", "_").rstrip("=")
    invite = Invite.objects.create(
        email=email,
        name=(name or "").strip(),
        global_role=global_role,
        teams=[{"id": t.team_id, "role": t.role} for t in team_roles],
        token_digest=digest(token),
        invited_by=actor,
        expires_at=timezone.now() + settings.FLEETSITE_INVITE_TTL,
    )
    record(actor, types.INVITED_USER, {"invite_id": invite.pk, "email": email, "global_role": global_role})
    link = f"{public_base_url(base_url)}/invites/{token}/"
    transaction.on_commit(lambda: _send_invite(invite, link, actor))
    return invite, token


def _send_invite(invite: Invite, link: str, actor: User) -> None:
    inviter = actor.name or actor.email
    send_mail(
        "You are invited to Fleetsite",
        f"{inviter} invited you to Fleetsite.\n\nCreate your account here: {link}\n\n"
        f"The link expires on {invite.expires_at:%Y-%m-%d %H:%M} UTC.",
        None,
        [invite.email],
        fail_silently=False,
    )


def find_invite(token: str) -> Invite | None:
    """A pending, unexpired invite for a link token."""
    if not token:
        return None
    return Invite.objects.filter(token_digest=digest(token), expires_at__gt=timezone.now()).first()


@transaction.atomic
def accept_invite(invite: Invite, name: str, password: str) -> User:
    teams = [TeamRole(int(t["id"]), t["role"]) for t in invite.teams if Team.objects.filter(pk=t["id"]).exists()]
    if not invite.global_role and not teams:
        raise InvalidInput("invite_token", "the teams of this invite no longer exist; ask for a new invite")
    user = create_user(
        invite.invited_by, invite.email, password, name=name or invite.name, global_role=invite.global_role, teams=teams
    )
    invite.delete()
    return user


@transaction.atomic
def delete_invite(actor: User, invite: Invite) -> None:
    record(actor, types.DELETED_INVITE, {"invite_id": invite.pk, "email": invite.email})
    invite.delete()


@transaction.atomic
def update_invite(invite: Invite, changes: dict[str, Any]) -> Invite:
    """Edit a pending invite (Fleet's PATCH /invites/{id}): email, name, global_role, teams.

    The link already mailed stays valid. Roles are replaced together, as in Fleet: sending either
    `global_role` or `teams` sets both (the one left out becomes empty), then Fleet's role rule
    applies. A new email must be free of users and other invites (Fleet answers 409).
    """
    if "email" in changes and changes["email"].strip().lower() != invite.email:
        email = (changes["email"] or "").strip().lower()
        if User.objects.filter(email=email).exists() or Invite.objects.filter(email=email).exists():
            raise AlreadyExists("email", "a user or invite with this email already exists")
        invite.email = clean_email(email)
    if "name" in changes:
        invite.name = (changes["name"] or "").strip()
    if "global_role" in changes or "teams" in changes:
        new_global, new_teams = clean_roles(changes.get("global_role"), changes.get("teams") or [])
        invite.global_role = new_global
        invite.teams = [{"id": t.team_id, "role": t.role} for t in new_teams]
    invite.save()
    return invite


# --- Teams -----------------------------------------------------------------------------------


def _team_details(team: Team) -> dict[str, Any]:
    return {"team_id": team.pk, "team_name": team.name}


@transaction.atomic
def create_team(actor: User, name: str, description: str = "") -> Team:
    team = Team.objects.create(name=clean_team_name(name), description=(description or "").strip())
    record(actor, types.CREATED_TEAM, _team_details(team), team=team)
    return team


@transaction.atomic
def update_team(actor: User, team: Team, name: str | None = None, description: str | None = None) -> Team:
    if name is not None:
        team.name = clean_team_name(name, exclude=team)
    if description is not None:
        team.description = description.strip()
    team.save()
    record(actor, types.EDITED_TEAM, _team_details(team), team=team)
    return team


@transaction.atomic
def delete_team(actor: User, team: Team) -> int:
    """Delete a team; its hosts stay, with no team (Fleet). Returns how many hosts moved."""
    from hosts.models import Host

    moved = Host.objects.filter(team=team).update(team=None, updated_at=timezone.now())
    details = {**_team_details(team), "hosts_moved": moved}
    team.delete()
    record(actor, types.DELETED_TEAM, details)
    return moved


def member_candidates(actor: User) -> QuerySet:
    """The users `actor` may add to a team: anyone for global admins, else members of the teams they administer."""
    admin_teams = permissions.writable_team_ids(actor, permissions.Kind.TEAM)
    if admin_teams is None:
        return User.objects.all()
    return User.objects.filter(memberships__team_id__in=admin_teams).distinct()


@transaction.atomic
def set_team_members(actor: User, team: Team, members: list[tuple[int, str]]) -> None:
    """Add users to a team or change their role there (Fleet's PATCH /teams/{id}/users).

    A team admin without a global role picks only among users of the teams they administer:
    anyone else looks missing, so ids and emails of other teams' users do not leak.
    """
    users = {u.pk: u for u in member_candidates(actor).filter(pk__in=[m[0] for m in members])}
    for user_id, role in members:
        if user_id not in users:
            raise InvalidInput("users", f"user {user_id} does not exist")
        if role not in Role.values:
            raise InvalidInput("users", f"invalid role {role!r} for user {user_id}")
        user = users[user_id]
        if user.global_role:
            raise InvalidInput("users", f"user {user_id} has a global role and cannot also have a team role")
        old = dict(user.memberships.values_list("team_id", "role"))
        TeamMembership.objects.update_or_create(user=user, team=team, defaults={"role": role})
        _record_roles(actor, user, None, old, None, {**old, team.pk: role})


@transaction.atomic
def remove_team_members(actor: User, team: Team, user_ids: list[int]) -> None:
    for membership in TeamMembership.objects.filter(team=team, user_id__in=user_ids).select_related("user"):
        user = membership.user
        old = dict(user.memberships.values_list("team_id", "role"))
        if not user.global_role and len(old) == 1:
            raise InvalidInput("users", f"{user.email} would have no role left; delete the user instead")
        membership.delete()
        new = {k: v for k, v in old.items() if k != team.pk}
        _record_roles(actor, user, None, old, None, new)
