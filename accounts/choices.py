"""Fleet's role names (fleet-protocol §4.1)."""

from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MAINTAINER = "maintainer", "Maintainer"
    OBSERVER = "observer", "Observer"
    OBSERVER_PLUS = "observer_plus", "Observer+"


class TokenKind(models.TextChoices):
    SESSION = "session", "Login session"
    API = "api", "API token"
