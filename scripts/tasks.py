"""Periodic script work: start batch runs whose `not_before` has come, retire stale queued scripts."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from scripts import service


@shared_task(name="start-script-batches")
def start_script_batches() -> int:
    return service.start_due_batches()


@shared_task(name="expire-pending-scripts")
def expire_pending_scripts() -> int:
    """Scripts queued for hosts that never came back end as canceled (upcoming list and batch counts agree)."""
    return service.expire_pending(settings.FLEETSITE_SCRIPT_PENDING_EXPIRY_DAYS)
