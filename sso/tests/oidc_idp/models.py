"""What the provider says about each of its users, set per test (tables made by `migrate --run-syncdb`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class UserClaims(models.Model):
    """Extra ID token claims for one provider user (email, name, FLEET_JIT_USER_ROLE_*, even `sub`)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="claims")
    data = models.JSONField(default=dict)
