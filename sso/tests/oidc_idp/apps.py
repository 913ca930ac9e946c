"""The provider project's one app: per-user ID token claims and the test-only user helper."""

from __future__ import annotations

from django.apps import AppConfig


class OidcIdpConfig(AppConfig):
    name = "sso.tests.oidc_idp"
    label = "oidc_idp"
    default_auto_field = "django.db.models.BigAutoField"
