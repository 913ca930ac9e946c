"""Django admin: CVEs and advisories, read for support."""

from django.contrib import admin

from vulnerabilities.models import CVE, Advisory, HostVulnerability


@admin.register(CVE)
class CVEAdmin(admin.ModelAdmin):
    list_display = ["cve", "cvss_score", "epss_probability", "cisa_known_exploit", "published", "withdrawn"]
    list_filter = ["cisa_known_exploit", "withdrawn"]
    search_fields = ["cve"]


@admin.register(Advisory)
class AdvisoryAdmin(admin.ModelAdmin):
    list_display = ["osv_id", "modified", "withdrawn"]
    search_fields = ["osv_id"]


@admin.register(HostVulnerability)
class HostVulnerabilityAdmin(admin.ModelAdmin):
    list_display = ["host", "cve", "via", "first_detected_at", "resolved_at"]
    search_fields = ["cve"]
    raw_id_fields = ["host", "software", "os_version"]
