from django.apps import AppConfig


class ScriptsConfig(AppConfig):
    """Scripts: saved per team, run on hosts by fleetd (orbit), one at a time per host."""

    name = "scripts"
    default_auto_field = "django.db.models.BigAutoField"
