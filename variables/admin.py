"""Secret variables in the Django admin: names and times only, never the values."""

from django.contrib import admin

from variables.models import SecretVariable


@admin.register(SecretVariable)
class SecretVariableAdmin(admin.ModelAdmin):
    list_display = ("name", "updated_at")
    search_fields = ("name",)
    exclude = ("value_encrypted",)
    readonly_fields = ("name", "created_at", "updated_at")

    def has_add_permission(self, request: object) -> bool:
        return False  # a value is set through the API, which encrypts it
