"""Fleet's enumerations for queries, policies and live-query campaigns."""

from django.db import models


class Logging(models.TextChoices):
    SNAPSHOT = "snapshot", "Snapshot"
    DIFFERENTIAL = "differential", "Differential"
    DIFFERENTIAL_IGNORE_REMOVALS = "differential_ignore_removals", "Differential (ignore removals)"


class CampaignStatus(models.IntegerChoices):
    """fleet-protocol §4.5: 0 waiting, 1 running, 2 complete."""

    WAITING = 0, "Waiting"
    RUNNING = 1, "Running"
    COMPLETE = 2, "Complete"


class TargetStatus(models.IntegerChoices):
    PENDING = 0, "Pending"
    ANSWERED = 1, "Answered"
    FAILED = 2, "Failed"
