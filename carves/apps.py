from django.apps import AppConfig


class CarvesConfig(AppConfig):
    """File carves: osquery uploads files in blocks, the server assembles them."""

    name = "carves"
    default_auto_field = "django.db.models.BigAutoField"
