"""Django admin for support staff: users, teams, memberships, tokens (digests only), invites."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import AuthToken, Invite, Team, TeamMembership, User


class MembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 0
    autocomplete_fields = ["team"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "global_role", "api_only", "is_active", "is_staff", "created_at"]
    list_filter = ["global_role", "api_only", "is_active", "is_staff"]
    search_fields = ["email", "name"]
    readonly_fields = ["created_at", "updated_at", "last_login"]
    inlines = [MembershipInline]
    fieldsets = [
        (None, {"fields": ["email", "name", "password"]}),
        ("Roles", {"fields": ["global_role", "api_only", "force_password_reset"]}),
        ("Django admin", {"fields": ["is_active", "is_staff", "is_superuser"]}),
        ("Dates", {"fields": ["last_login", "created_at", "updated_at"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2", "global_role"]})]
    filter_horizontal: list[str] = []


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name", "description"]
    inlines = [MembershipInline]


@admin.register(AuthToken)
class AuthTokenAdmin(admin.ModelAdmin):
    """Tokens can be inspected and deleted (revoked); the stored digest is no credential."""

    list_display = ["user", "kind", "name", "role", "created_at", "last_used_at", "expires_at"]
    list_filter = ["kind", "role"]
    search_fields = ["user__email", "name"]
    readonly_fields = ["key_digest", "user", "kind", "name", "role", "created_at", "last_used_at", "expires_at"]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    list_display = ["email", "global_role", "invited_by", "created_at", "expires_at"]
    search_fields = ["email", "name"]
    readonly_fields = ["token_digest", "invited_by", "created_at", "updated_at"]

    def has_add_permission(self, request: object) -> bool:
        return False  # invites are created in the app, which sends the email
