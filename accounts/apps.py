from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Users, teams, roles, sessions and API tokens."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
