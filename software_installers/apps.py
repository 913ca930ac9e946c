from django.apps import AppConfig


class SoftwareInstallersConfig(AppConfig):
    """Software installers: packages uploaded per team, installed on hosts by fleetd (orbit)."""

    name = "software_installers"
    default_auto_field = "django.db.models.BigAutoField"
