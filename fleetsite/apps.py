from django.apps import AppConfig


class FleetsiteConfig(AppConfig):
    """Project-wide pieces: app config, health, metrics, the `serve` command."""

    name = "fleetsite"
    default_auto_field = "django.db.models.BigAutoField"
