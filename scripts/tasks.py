"""Periodic script work: start batch runs whose `not_before` has come."""

from __future__ import annotations

from celery import shared_task

from scripts import service


@shared_task(name="start-script-batches")
def start_script_batches() -> int:
    return service.start_due_batches()
