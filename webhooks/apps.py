from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Automations: Fleet's webhooks (host status, failing policies, vulnerabilities, activities), Jira and Zendesk."""

    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"
