"""The MFA switch, recovery codes, pending second steps and the browser sessions a user can see.

TOTP devices themselves are django-otp's `TOTPDevice` (secret, drift and `last_t`, the last
time step used, which is what refuses a code used twice).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class MFASettings(models.Model):
    """One row: whether password logins must have a second factor (SSO logins are exempt)."""

    require_mfa = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "MFA settings"
        verbose_name_plural = "MFA settings"

    def save(self, *args: object, **kwargs: object) -> None:
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> MFASettings:
        row = cls.objects.filter(pk=1).first()
        if row is None:
            cls.objects.bulk_create([cls(pk=1)], ignore_conflicts=True)
            row = cls.objects.get(pk=1)
        return row


class RecoveryCode(models.Model):
    """A one-time code for when the authenticator is lost; only its digest is kept, used ones are deleted."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes")
    code_digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "code_digest"], name="unique_recovery_code")]


class LoginChallenge(models.Model):
    """A password login waiting for its second step; the client holds the key, we keep its digest.

    `purpose` is `api` (POST /login then POST /sessions), `ui` (the login page's code step) or
    `enrol` (MFA is required and the user has none yet: the UI sets one up before logging in).
    """

    key_digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=8)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The WebAuthn challenge (base64url) of the passkey assertion this login asked for; cleared
    # when an assertion is checked, so each one is good for one try.
    webauthn_challenge = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)


class Passkey(models.Model):
    """A WebAuthn credential registered as a second factor (py_webauthn verifies; we keep the public key).

    The credential id can be up to 1023 bytes, too long for a portable unique index, so its
    SHA-256 is the unique column and the id itself is kept as base64url text.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="passkeys")
    name = models.CharField(max_length=64)
    credential_digest = models.CharField(max_length=64, unique=True)
    credential_id = models.TextField()
    public_key = models.BinaryField()
    # The authenticator's signature counter; an assertion must raise it (unless both are 0),
    # else the credential may have been cloned.
    sign_count = models.PositiveBigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    aaguid = models.CharField(max_length=36, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]


class BrowserSession(models.Model):
    """A web UI login (a Django session), so its user can see and end it from another browser."""

    session_key = models.CharField(max_length=40, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="browser_sessions")
    # How the user logged in: "password", "password+totp", "password+recovery_code", "sso".
    method = models.CharField(max_length=32, blank=True)
    ip_address = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
