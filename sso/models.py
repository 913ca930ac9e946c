"""Single sign-on settings, per-user SSO flags, pending logins and consumed assertions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class SSOSettings(models.Model):
    """One row: Fleet's `sso_settings` plus OpenID Connect and the "require SSO" switch.

    The IdP metadata is stored as text: `metadata_url` is only fetched when an admin asks for it
    (the server may have no way out), never while someone logs in.
    """

    enable_sso = models.BooleanField(default=False)
    entity_id = models.CharField(max_length=255, blank=True)
    idp_name = models.CharField(max_length=255, blank=True)
    idp_image_url = models.CharField(max_length=512, blank=True)
    metadata = models.TextField(blank=True)
    metadata_url = models.CharField(max_length=512, blank=True)
    # The document last fetched from metadata_url (used when `metadata` is empty).
    fetched_metadata = models.TextField(blank=True)
    enable_sso_idp_login = models.BooleanField(default=False)
    enable_jit_provisioning = models.BooleanField(default=False)
    # Ours: password login refused for everyone but global admins and API-only users.
    require_sso = models.BooleanField(default=False)
    # OpenID Connect (beyond Fleet).
    enable_oidc = models.BooleanField(default=False)
    oidc_name = models.CharField(max_length=255, blank=True)
    oidc_discovery_url = models.CharField(max_length=512, blank=True)
    oidc_client_id = models.CharField(max_length=255, blank=True)
    oidc_client_secret = models.TextField(blank=True, help_text="AES-GCM encrypted (variables.crypto).")
    oidc_scopes = models.CharField(max_length=512, default="openid email profile")
    # The discovery document and JWKS, fetched by an explicit action and kept here.
    oidc_provider = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "SSO settings"
        verbose_name_plural = "SSO settings"

    def save(self, *args: object, **kwargs: object) -> None:
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> SSOSettings:
        row = cls.objects.filter(pk=1).first()
        if row is None:
            cls.objects.bulk_create([cls(pk=1)], ignore_conflicts=True)
            row = cls.objects.get(pk=1)
        return row

    def idp_metadata(self) -> str:
        return self.metadata or self.fetched_metadata


class SSOUser(models.Model):
    """Fleet's per-user `sso_enabled`: such a user logs in only through the identity provider."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso")
    sso_enabled = models.BooleanField(default=True)
    # "saml" or "oidc": how the user last signed in; the OIDC subject ties a login to one account.
    last_protocol = models.CharField(max_length=8, blank=True)
    oidc_subject = models.CharField(max_length=255, blank=True)
    last_login_at = models.DateTimeField(null=True, blank=True)


class PendingLogin(models.Model):
    """A login started here and not finished yet, bound to the browser by a random cookie.

    Only the cookie value's digest is stored. SAML keeps the AuthnRequest id (the response must
    answer it); OIDC keeps state, nonce and the PKCE verifier.
    """

    key_digest = models.CharField(max_length=64, unique=True)
    protocol = models.CharField(max_length=8)
    request_id = models.CharField(max_length=255, blank=True)
    state_digest = models.CharField(max_length=64, blank=True)
    nonce = models.CharField(max_length=128, blank=True)
    code_verifier = models.CharField(max_length=128, blank=True)
    relay_path = models.CharField(max_length=2048, default="/")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)


class ConsumedAssertion(models.Model):
    """Assertion (or ID token) ids already used, kept until they expire: a replay is refused."""

    assertion_id = models.CharField(max_length=255, unique=True)
    expires_at = models.DateTimeField(db_index=True)
