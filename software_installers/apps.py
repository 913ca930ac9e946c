from django.apps import AppConfig


class SoftwareInstallersConfig(AppConfig):
    """Software installers: packages uploaded per team, installed on hosts by fleetd (orbit)."""

    name = "software_installers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from hosts.upcoming import mark_on_create
        from software_installers.models import SoftwareInstall

        post_save.connect(mark_on_create, sender=SoftwareInstall, dispatch_uid="software_installers.mark_work_queued")
