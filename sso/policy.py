"""When password login is refused because of single sign-on (called by the password login views)."""

from __future__ import annotations

from accounts.choices import Role
from accounts.models import User
from sso.models import SSOSettings
from sso.users import is_sso_user

SSO_USER = "This account signs in with single sign-on: use the identity provider's button."
SSO_REQUIRED = "This organization requires single sign-on: use the identity provider's button."


def password_refusal(user: User) -> str | None:
    """A reason to refuse `user`'s password login, or None.

    Fleet refuses password login for SSO-enabled users. Ours on top: with `require_sso`, only
    global admins (the way back in when the IdP is down) and API-only users may use a password.
    """
    if is_sso_user(user):
        return SSO_USER
    row = SSOSettings.objects.filter(pk=1).only("require_sso", "enable_sso", "enable_oidc").first()
    required = row is not None and row.require_sso and (row.enable_sso or row.enable_oidc)
    if required and user.global_role != Role.ADMIN and not user.api_only:
        return SSO_REQUIRED
    return None
