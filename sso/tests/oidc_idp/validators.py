"""django-oauth-toolkit's validator, told to put each user's stored claims in the ID token."""

from __future__ import annotations

from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator


class ClaimsValidator(OAuth2Validator):
    """Every stored claim goes into the ID token whatever the scope, as an IdP's custom claim mapping does.

    DOT drops claims it cannot map to a granted scope; `None` turns that filter off, which Fleetsite's
    role claims (`FLEET_JIT_USER_ROLE_TEAM_<id>`, names that vary) need.
    """

    oidc_claim_scope = None

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        from sso.tests.oidc_idp.models import UserClaims

        row = UserClaims.objects.filter(user=request.user).first()
        return dict(row.data) if row else {"email": request.user.email}
