"""Django admin for the app config row."""

from django.contrib import admin

from fleetsite.models import FleetConfig


@admin.register(FleetConfig)
class FleetConfigAdmin(admin.ModelAdmin):
    list_display = ["org_name", "server_url", "updated_at"]

    def has_add_permission(self, request: object) -> bool:
        return not FleetConfig.objects.exists()

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
