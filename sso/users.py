"""Who a verified identity is here: existing users, just-in-time creation, and role updates."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts import services
from accounts.choices import Role
from accounts.models import Team, User
from activities import types
from activities.record import record
from sso import constants, roles
from sso.errors import SSOError
from sso.models import SSOSettings, SSOUser


def is_sso_user(user: User) -> bool:
    """Fleet's per-user `sso_enabled`."""
    try:
        return user.sso.sso_enabled
    except SSOUser.DoesNotExist:
        return False


def set_sso_enabled(user: User, enabled: bool) -> None:
    SSOUser.objects.update_or_create(user=user, defaults={"sso_enabled": enabled})


def checked_sso_flag(user: User, enabled: bool | None, is_admin: bool) -> bool | None:
    """A PATCH /users/{id} `sso_enabled`: only admins change it, and only on when SSO is configured."""
    from fleetsite.api.errors import forbidden, validation_failed

    if enabled is None or enabled == is_sso_user(user):
        return None
    if not is_admin:
        raise forbidden()
    row = SSOSettings.load()
    if enabled and not (row.enable_sso or row.enable_oidc):
        raise validation_failed("sso_enabled", "single sign-on is not configured (sso_settings.enable_sso)")
    if enabled and user.api_only:
        raise validation_failed("sso_enabled", "API-only users cannot use single sign-on")
    return enabled


def _team_roles(mapped: roles.MappedRoles, email: str) -> list[services.TeamRole]:
    known = set(Team.objects.filter(pk__in=mapped.teams).values_list("pk", flat=True))
    missing = sorted(set(mapped.teams) - known)
    if missing:
        raise SSOError(f"The identity provider names teams that do not exist here: {missing}", email=email)
    return [services.TeamRole(team_id, role) for team_id, role in sorted(mapped.teams.items())]


@transaction.atomic
def resolve(email: str, name: str, attributes: dict, protocol: str, row: SSOSettings, subject: str = "") -> User:
    """The user to sign in for a verified identity, created (JIT) or updated (roles) as Fleet does.

    Fleet's rules: an unknown email is refused unless JIT provisioning is on; a known user must be
    SSO-enabled (JIT users are); role attributes, when JIT is on, set the roles at each login, and a
    new user without any gets the global observer role.
    """
    mapped = roles.from_attributes(attributes, email)
    user = User.objects.select_for_update().filter(email=email).first()
    if user is None:
        if not row.enable_jit_provisioning:
            raise SSOError(
                f"There is no Fleetsite account for {email}, and accounts are not created automatically "
                "(just-in-time provisioning is off): ask an admin to add you.",
                constants.STATUS_ACCOUNT_INVALID,
                email,
            )
        global_role = mapped.global_role if mapped.is_set() else Role.OBSERVER
        team_roles = _team_roles(mapped, email)
        user = User.objects.create_user(email, None, name=(name or email)[:255], global_role=global_role or None)
        services._set_team_roles(user, team_roles)
        SSOUser.objects.create(user=user, sso_enabled=True)
        record(user, types.USER_ADDED_BY_SSO, {})
        services._record_roles(user, user, None, {}, user.global_role, {t.team_id: t.role for t in team_roles})
    else:
        if not user.is_active or user.api_only:
            raise SSOError(
                "This account is disabled or API-only and cannot sign in to the web UI.",
                constants.STATUS_ACCOUNT_DISABLED,
                email,
            )
        if not is_sso_user(user):
            raise SSOError(
                "This account is not set up for single sign-on: an admin turns on SSO for it "
                "(Settings > Users), or you log in with your password.",
                constants.STATUS_ACCOUNT_DISABLED,
                email,
            )
        bound = SSOUser.objects.filter(user=user).values_list("oidc_subject", flat=True).first()
        if protocol == "oidc" and bound and subject and bound != subject:
            raise SSOError(
                "This email belongs to another account at the OpenID provider (subject mismatch).",
                constants.STATUS_ACCOUNT_INVALID,
                email,
            )
        if row.enable_jit_provisioning and mapped.is_set():
            changes = {"global_role": mapped.global_role, "teams": _team_roles(mapped, email)}
            try:
                services.update_user(None, user, changes)
            except services.InvalidInput as exc:
                raise SSOError(
                    f"Your roles from the identity provider cannot be applied: {exc.reason}", email=email
                ) from exc
        if name and name != user.name:
            user.name = name[:255]
            user.save(update_fields=["name", "updated_at"])
    SSOUser.objects.filter(user=user).update(
        last_protocol=protocol, last_login_at=timezone.now(), **({"oidc_subject": subject} if subject else {})
    )
    return user
