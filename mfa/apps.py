from django.apps import AppConfig


class MfaConfig(AppConfig):
    """Second factors (TOTP and recovery codes), the login's second step, and the sessions a user can see."""

    name = "mfa"
    verbose_name = "Second factor and sessions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mfa import sessions

        sessions.connect_signals()
