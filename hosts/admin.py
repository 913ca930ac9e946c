"""Django admin for support staff: hosts and what they report (key digests read-only)."""

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from hosts import digests
from hosts.models import Host, HostSoftware, HostUser, Label, LabelMembership, Software


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):
    list_display = ["id", "hostname", "platform", "os_version", "team", "primary_ip", "seen_time"]
    list_filter = ["platform", "team"]
    search_fields = ["hostname", "computer_name", "uuid", "hardware_serial", "primary_ip", "osquery_host_id"]
    list_select_related = ["team"]
    show_full_result_count = False  # no COUNT(*) over every host on each page
    readonly_fields = ["node_key_digest", "orbit_node_key_digest", "device_token_digest", "created_at", "updated_at"]
    raw_id_fields = ["team"]


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["name", "label_type", "label_membership_type", "platform", "team"]
    list_filter = ["label_type", "label_membership_type"]
    search_fields = ["name", "description"]
    raw_id_fields = ["author", "team"]


@admin.register(Software)
class SoftwareAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "source", "vendor"]
    list_filter = ["source"]
    search_fields = ["name", "vendor", "bundle_identifier"]
    readonly_fields = ["checksum"]

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        self.delete_queryset(request, Software.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Deleting software deletes its installs: their hosts' next answers are stored in full."""
        host_ids = set(HostSoftware.objects.filter(software__in=queryset).values_list("host_id", flat=True))
        super().delete_queryset(request, queryset)
        digests.forget(host_ids)


class ReportedRowsAdmin(admin.ModelAdmin):
    """Rows a host's answers replace: after a change here, the host's next answer is stored in full.

    Ingestion skips a section whose rows are those it stored last time (hosts/digests.py), so
    it must learn that the stored rows are no longer that answer's.
    """

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        digests.forget([obj.host_id])

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        super().delete_model(request, obj)
        digests.forget([obj.host_id])  # type: ignore[attr-defined]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        host_ids = set(queryset.values_list("host_id", flat=True))
        super().delete_queryset(request, queryset)
        digests.forget(host_ids)


@admin.register(HostUser)
class HostUserAdmin(ReportedRowsAdmin):
    list_display = ["host", "username", "uid", "type"]
    search_fields = ["username", "host__hostname"]
    raw_id_fields = ["host"]


@admin.register(HostSoftware)
class HostSoftwareAdmin(ReportedRowsAdmin):
    list_display = ["host", "software", "last_opened_at"]
    search_fields = ["software__name", "host__hostname"]
    raw_id_fields = ["host", "software"]
    show_full_result_count = False


@admin.register(LabelMembership)
class LabelMembershipAdmin(admin.ModelAdmin):
    list_display = ["label", "host", "updated_at"]
    list_filter = ["label"]
    raw_id_fields = ["host", "label"]
    show_full_result_count = False
