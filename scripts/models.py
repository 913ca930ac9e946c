"""Saved scripts, their executions on hosts (each host's upcoming queue) and batch runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from scripts.choices import BatchStatus, ExecutionStatus


class Script(models.Model):
    """A saved script of a team, or of "no team" (team null). Names are unique per team.

    `team_key` is the team id or 0: a unique constraint over a nullable column would let "no
    team" hold two scripts of one name on every database.
    """

    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="scripts")
    team_key = models.BigIntegerField(default=0, editable=False)
    name = models.CharField(max_length=255)
    contents = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["team_key", "name"], name="script_name_per_team")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        self.team_key = self.team_id or 0
        super().save(*args, **kwargs)


class ScriptExecution(models.Model):
    """One request to run a script on one host (Fleet's host_script_results row).

    Rows with no exit code and not canceled are the host's upcoming queue, oldest first; fleetd
    is told only of the first one, so a host runs one script at a time.
    """

    execution_id = models.CharField(max_length=36, unique=True)
    host = models.ForeignKey("hosts.Host", on_delete=models.CASCADE, related_name="script_executions")
    script = models.ForeignKey(Script, null=True, blank=True, on_delete=models.SET_NULL, related_name="executions")
    batch = models.ForeignKey(
        "BatchExecution", null=True, blank=True, on_delete=models.SET_NULL, related_name="executions"
    )
    contents = models.TextField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    exit_code = models.IntegerField(null=True, blank=True)
    output = models.TextField(blank=True)
    runtime = models.IntegerField(default=0)
    timeout = models.IntegerField(null=True, blank=True)
    sync_request = models.BooleanField(default=False)
    canceled = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["host", "exit_code", "canceled", "created_at"], name="script_exec_queue")]

    def __str__(self) -> str:
        return self.execution_id

    @property
    def status(self) -> str:
        if self.exit_code is None:
            return ExecutionStatus.PENDING
        return ExecutionStatus.RAN if self.exit_code == 0 else ExecutionStatus.ERROR


class BatchExecution(models.Model):
    """One saved script run on many hosts at once (Fleet's batch activity)."""

    batch_execution_id = models.CharField(max_length=36, unique=True)
    script = models.ForeignKey(Script, null=True, blank=True, on_delete=models.SET_NULL, related_name="batches")
    script_name = models.CharField(max_length=255)
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=16, choices=BatchStatus.choices, default=BatchStatus.STARTED)
    canceled = models.BooleanField(default=False)
    not_before = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.batch_execution_id


class BatchHost(models.Model):
    """One targeted host of a batch: its execution, or why it got none (`error`)."""

    batch = models.ForeignKey(BatchExecution, on_delete=models.CASCADE, related_name="hosts")
    host = models.ForeignKey("hosts.Host", null=True, blank=True, on_delete=models.SET_NULL)
    execution = models.OneToOneField(ScriptExecution, null=True, blank=True, on_delete=models.SET_NULL)
    error = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["batch", "host"], name="batch_host_once")]
