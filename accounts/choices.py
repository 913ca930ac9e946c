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


# Fleet's names for its roles as people read them (the API keeps the keys); Fleet's GitOps and
# Technician roles are named too, for data that carries them.
ROLE_NAMES = {
    "admin": "Admin",
    "maintainer": "Maintainer",
    "observer": "Observer",
    "observer_plus": "Observer+",
    "gitops": "GitOps",
    "technician": "Technician",
}


def role_name(role: str | None) -> str:
    """'Observer+' for `observer_plus`: what a person reads wherever a role is shown."""
    if not role:
        return ""
    return ROLE_NAMES.get(str(role), str(role).replace("_", " ").capitalize())
