from django.apps import AppConfig


class QueriesConfig(AppConfig):
    """Saved and scheduled queries, policies and live-query campaigns."""

    name = "queries"
    default_auto_field = "django.db.models.BigAutoField"
