from django.apps import AppConfig


class HostsConfig(AppConfig):
    """Hosts, labels, detail-query ingestion, host REST and UI."""

    name = "hosts"
    default_auto_field = "django.db.models.BigAutoField"
