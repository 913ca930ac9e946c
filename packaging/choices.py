"""Packager build states and stages, spelled as the packager API returns them (seed 003)."""

from __future__ import annotations

from django.db import models


class BuildStatus(models.TextChoices):
    IN_PROGRESS = "in-progress"
    SUCCESS = "success"
    FAIL = "fail"
    EXPIRED = "expired"


class Stage(models.TextChoices):
    QUEUED = "queued"
    FETCHING = "fetching targets"
    BUILDING = "building"
    SIGNING = "signing"
    DONE = "done"
