"""Fleet's script enumerations: execution status, batch status, per-host batch outcomes."""

from django.db import models


class ExecutionStatus(models.TextChoices):
    """HostScriptExecution.status: derived from exit_code (null: pending, 0: ran, else error)."""

    PENDING = "pending"
    RAN = "ran"
    ERROR = "error"


class BatchStatus(models.TextChoices):
    """Fleet's ScheduledBatchExecutionStatus."""

    SCHEDULED = "scheduled"
    STARTED = "started"
    FINISHED = "finished"


class BatchHostStatus(models.TextChoices):
    """Fleet's BatchScriptExecutionStatus for one host of a batch run."""

    RAN = "ran"
    PENDING = "pending"
    ERRORED = "errored"
    INCOMPATIBLE = "incompatible"
    CANCELED = "canceled"


# Why a targeted host got no execution (Fleet's BatchExecute* values).
INCOMPATIBLE_PLATFORM = "incompatible-platform"
INCOMPATIBLE_FLEETD = "incompatible-fleetd"
