from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Users, teams, roles, sessions and API tokens."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connects the receivers that keep cached team names fresh, in every process.
        from accounts import lockout, teamnames  # noqa: F401
