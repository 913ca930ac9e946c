"""Django admin for the activity feed: read-only, no add, no change, no delete."""

from django.contrib import admin

from activities.models import Activity


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["created_at", "type", "actor_email", "host", "team", "fleet_initiated"]
    list_filter = ["type", "fleet_initiated"]
    search_fields = ["actor_email", "actor_full_name", "type"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def get_readonly_fields(self, request: object, obj: object = None) -> list[str]:
        return [f.name for f in Activity._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
