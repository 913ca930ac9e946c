from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    """Enroll secrets and the agent endpoints (osquery, orbit, My Device)."""

    name = "enrollment"
    default_auto_field = "django.db.models.BigAutoField"
