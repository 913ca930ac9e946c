from django.apps import AppConfig


class PackagingConfig(AppConfig):
    """fleetd installers, the TUF update repository and the packager service."""

    name = "packaging"
    default_auto_field = "django.db.models.BigAutoField"
