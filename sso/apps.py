from django.apps import AppConfig


class SsoConfig(AppConfig):
    """Single sign-on: SAML 2.0 (Fleet's settings and routes) and OpenID Connect."""

    name = "sso"
    verbose_name = "Single sign-on"
    default_auto_field = "django.db.models.BigAutoField"
