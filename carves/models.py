"""Carve sessions and their blocks (fleet-protocol §1.6)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Carve(models.Model):
    """One file carve requested by a query and uploaded block by block."""

    host = models.ForeignKey("hosts.Host", null=True, on_delete=models.SET_NULL, related_name="carves")
    name = models.CharField(max_length=255)
    session_id = models.CharField(max_length=36, unique=True)
    request_id = models.CharField(max_length=255)
    carve_id = models.CharField(max_length=255)
    block_count = models.BigIntegerField()
    block_size = models.BigIntegerField()
    carve_size = models.BigIntegerField()
    max_block = models.BigIntegerField(default=-1)
    error = models.TextField(null=True, blank=True)
    expired = models.BooleanField(default=False)
    # The blocks were joined into one stored file (carves.storage.file_name) and their objects removed.
    assembled = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def complete(self) -> bool:
        return self.max_block >= self.block_count - 1


class CarveBlock(models.Model):
    """One uploaded block. Its bytes are in the carve storage (carves.storage); `data` is empty there,
    and holds the bytes only for blocks received before blocks moved out of the database."""

    carve = models.ForeignKey(Carve, on_delete=models.CASCADE, related_name="blocks")
    block_id = models.BigIntegerField()
    data = models.BinaryField(blank=True, default=b"")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["carve", "block_id"], name="unique_carve_block")]
        ordering = ["block_id"]
