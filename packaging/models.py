"""Installer builds requested through the packager API or the UI."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from packaging.choices import BuildStatus, Stage


class PackageBuild(models.Model):
    """One build: its options (cleared once it finishes), progress, and the file it produced.

    `options_digest` is a keyed hash of every option, so identical requests share one build
    while it is valid without the database holding a plain hash of an enroll secret.
    """

    package_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    options_digest = models.CharField(max_length=64, db_index=True)
    package_type = models.CharField(max_length=8)
    options = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=BuildStatus.choices, default=BuildStatus.IN_PROGRESS)
    stage = models.CharField(max_length=32, choices=Stage.choices, default=Stage.QUEUED)
    logs = models.TextField(blank=True)
    filename = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    client_ip = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.package_type} package {self.package_id} ({self.status})"
