"""Queueing and sending deliveries: a row written in the caller's transaction, a Celery job after commit.

A rolled-back change leaves no row and queues nothing. Each attempt has a timeout; a failed one is
tried again after a doubling delay until `FLEETSITE_WEBHOOK_MAX_ATTEMPTS`, then the delivery is
marked failed with its last error. Nothing here raises into the code that triggered the automation.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webhooks import tickets
from webhooks.choices import Kind, Status
from webhooks.models import Delivery

logger = logging.getLogger(__name__)
ERROR_LIMIT = 2000


def queue(
    kind: str, url: str, payload: dict[str, Any], team_id: int | None = None, context: dict | None = None
) -> Delivery:
    """Store a delivery and send it once the current transaction commits."""
    delivery = Delivery.objects.create(kind=kind, url=url, payload=payload, team_id=team_id, context=context or {})
    transaction.on_commit(lambda: _enqueue(delivery.pk))
    return delivery


def _enqueue(pk: int, countdown: float = 0) -> None:
    from webhooks.tasks import deliver

    try:
        deliver.apply_async((pk,), countdown=countdown or None)
    except Exception:  # a broker outage must not fail the request that triggered the automation
        logger.exception("could not queue webhook delivery %s", pk)


def backoff(attempts: int) -> float:
    """Seconds before attempt `attempts + 1`: the base, doubled after each failure."""
    return settings.FLEETSITE_WEBHOOK_RETRY_BACKOFF * (2 ** max(attempts - 1, 0))


def attempt(pk: int) -> Delivery | None:
    """One try at a pending delivery; records the outcome. Returns the delivery, or None if it is not pending."""
    delivery = Delivery.objects.filter(pk=pk, status=Status.PENDING).first()
    if delivery is None:
        return None
    error, code = _send(delivery)
    delivery.attempts += 1
    delivery.last_attempt_at = timezone.now()
    delivery.response_status = code
    if error is None:
        delivery.status, delivery.delivered_at, delivery.last_error = Status.DELIVERED, delivery.last_attempt_at, ""
    else:
        delivery.last_error = error[:ERROR_LIMIT]
        if delivery.attempts >= settings.FLEETSITE_WEBHOOK_MAX_ATTEMPTS:
            delivery.status = Status.FAILED
            logger.warning("%s delivery %s to %s gave up: %s", delivery.kind, pk, delivery.url, error)
    with transaction.atomic():
        delivery.save()
        if delivery.status == Status.FAILED:
            _gave_up(delivery)
    return delivery


def run(pk: int, eager: bool) -> None:
    """Attempt a delivery; schedule the next attempt if it failed and may be tried again.

    With a broker the retry is a new job after the delay. Without one (tasks run in-process), the
    delay is slept here: there is no worker to hand it to.
    """
    delivery = attempt(pk)
    if delivery is None or delivery.status != Status.PENDING:
        return
    delay = backoff(delivery.attempts)
    if eager:
        time.sleep(delay)
        run(pk, eager)
    else:
        _enqueue(pk, countdown=delay)


def _send(delivery: Delivery) -> tuple[str | None, int | None]:
    """(error or None, HTTP status) of one POST."""
    try:
        if delivery.kind in (Kind.JIRA, Kind.ZENDESK):
            item = tickets.find(delivery.kind, delivery.context.get("integration") or {})
            if item is None:
                return "the integration was removed from the settings", None
            response = tickets.post(delivery.kind, item, delivery.payload)
        else:
            response = httpx.post(delivery.url, json=delivery.payload, timeout=settings.FLEETSITE_WEBHOOK_TIMEOUT)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}", None
    if 200 <= response.status_code < 300:
        return None, response.status_code
    return f"HTTP {response.status_code}: {response.text[:500]}", response.status_code


def _gave_up(delivery: Delivery) -> None:
    """Failing-policy hosts that never reached the webhook are reported again by the next run (Fleet keeps them)."""
    memberships = delivery.context.get("memberships")
    if memberships:
        from queries.models import PolicyMembership

        PolicyMembership.objects.filter(pk__in=memberships, passes=False).update(webhook_pending=True)


def prune() -> int:
    """Delivered and failed rows older than FLEETSITE_WEBHOOK_DELIVERY_RETENTION_DAYS go."""
    cutoff = timezone.now() - timedelta(days=settings.FLEETSITE_WEBHOOK_DELIVERY_RETENTION_DAYS)
    deleted, _ = Delivery.objects.filter(created_at__lt=cutoff).exclude(status=Status.PENDING).delete()
    return deleted
