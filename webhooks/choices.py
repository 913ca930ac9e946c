"""What a delivery carries and where it stands."""

from django.db import models


class Kind(models.TextChoices):
    """The automation a delivery belongs to (Fleet's four webhooks and the two ticket systems)."""

    HOST_STATUS = "host_status", "Host status webhook"
    FAILING_POLICIES = "failing_policies", "Failing policies webhook"
    VULNERABILITIES = "vulnerabilities", "Vulnerabilities webhook"
    ACTIVITIES = "activities", "Activities webhook"
    JIRA = "jira", "Jira ticket"
    ZENDESK = "zendesk", "Zendesk ticket"


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
