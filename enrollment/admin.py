"""Django admin for enroll secrets: visible for support, never editable here (the app keeps digests in step)."""

from django.contrib import admin

from enrollment.models import EnrollSecret


@admin.register(EnrollSecret)
class EnrollSecretAdmin(admin.ModelAdmin):
    list_display = ["__str__", "team", "created_at"]
    list_filter = ["team"]
    search_fields = ["team__name"]
    fields = ["team", "created_at", "secret_digest"]
    readonly_fields = ["team", "created_at", "secret_digest"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
