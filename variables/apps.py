from django.apps import AppConfig


class VariablesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "variables"
    verbose_name = "Custom variables"
