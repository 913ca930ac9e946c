from django.apps import AppConfig


class FleetsiteConfig(AppConfig):
    """Project-wide pieces: app config, health, metrics, tracing, the `serve` command."""

    name = "fleetsite"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from fleetsite import telemetry

        telemetry.install()  # a no-op unless OTEL_* variables ask for traces
