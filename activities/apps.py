from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    """The audit feed: who changed what, and when."""

    name = "activities"
    default_auto_field = "django.db.models.BigAutoField"
