from django.apps import AppConfig


class ScriptsConfig(AppConfig):
    """Scripts: saved per team, run on hosts by fleetd (orbit), one at a time per host."""

    name = "scripts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from hosts.upcoming import mark_on_create
        from scripts.models import ScriptExecution

        post_save.connect(mark_on_create, sender=ScriptExecution, dispatch_uid="scripts.mark_work_queued")
