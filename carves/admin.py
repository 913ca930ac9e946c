"""Django admin for file carves (block data is not shown: it can be large and sensitive)."""

from django.contrib import admin

from carves.models import Carve


@admin.register(Carve)
class CarveAdmin(admin.ModelAdmin):
    list_display = ["name", "host", "carve_size", "block_count", "max_block", "expired", "created_at"]
    list_filter = ["expired"]
    search_fields = ["name", "session_id", "request_id", "host__hostname"]
    readonly_fields = ["session_id", "request_id", "carve_id", "block_count", "block_size", "carve_size", "max_block"]
    raw_id_fields = ["host"]
