"""Django admin: deliveries, so an admin sees what failed and why."""

from django.contrib import admin

from webhooks.models import Delivery


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "team", "url", "status", "attempts", "response_status", "created_at"]
    list_filter = ["kind", "status"]
    readonly_fields = [field.name for field in Delivery._meta.fields]
