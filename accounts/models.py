"""Users log in by email; teams group hosts; tokens authenticate REST calls."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone

from accounts.choices import Role, TokenKind


class UserManager(BaseUserManager["User"]):
    """Creates users keyed by a lower-cased email (Fleet lower-cases emails at login)."""

    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: object) -> User:
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("global_role", Role.ADMIN)
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person or API-only account; `global_role` empty means access through teams only."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=255, blank=True)
    global_role = models.CharField(max_length=32, choices=Role.choices, blank=True, null=True)
    api_only = models.BooleanField(default=False)
    force_password_reset = models.BooleanField(default=False)
    # Fleet's user settings (`GET /me?include_ui_settings=true`): the host table's hidden columns.
    ui_settings = models.JSONField(default=dict, blank=True)
    is_staff = models.BooleanField(default=False, help_text="May use the Django admin.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    def __str__(self) -> str:
        return self.email


class Team(models.Model):
    """A group of hosts with its own agent options, enroll secrets and members."""

    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    agent_options = models.JSONField(null=True, blank=True)
    # Settings a team spec (`fleetctl gitops`) sets that Fleetsite keeps for the next `get`, such as
    # features, host_expiry_settings, webhook_settings, integrations, scripts, software, gitops_filename.
    spec_settings = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    """A user's role on one team."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "team"], name="unique_team_member")]


class AuthToken(models.Model):
    """A bearer token: a login session or a named API token. Only its digest is stored."""

    key_digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="tokens")
    kind = models.CharField(max_length=16, choices=TokenKind.choices, default=TokenKind.SESSION)
    name = models.CharField(max_length=255, blank=True)
    # API tokens may act with less than their owner's role: the lower of the two applies.
    role = models.CharField(max_length=32, choices=Role.choices, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.kind} token of {self.user_id}"


class Invite(models.Model):
    """An invitation to create an account; the link's token is stored only as a digest."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=255, blank=True)
    global_role = models.CharField(max_length=32, choices=Role.choices, blank=True, null=True)
    # [{"id": team_id, "role": role}], applied when the invite is accepted.
    teams = models.JSONField(default=list, blank=True)
    token_digest = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"invite for {self.email}"


class EmailChange(models.Model):
    """A requested e-mail change, applied when the link mailed to the new address is opened.

    Fleet's flow: PATCH /users/{id} with a new email stores it here and mails a token; GET
    /email/change/{token}, by the same user, makes it the login email. Only the token's digest
    is stored; one pending change per user (a newer request replaces the older).
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="email_change")
    new_email = models.EmailField()
    token_digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"email change of {self.user_id} to {self.new_email}"
