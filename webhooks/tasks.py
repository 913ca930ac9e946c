"""Celery jobs of the automations (STYLE 5.2): deliveries, and the beat job that runs the periodic ones."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task

from webhooks import delivery, triggers


@shared_task(name="deliver-webhook", ignore_result=True)
def deliver(pk: int) -> None:
    """One attempt at a delivery; a failure schedules the next one (never raises)."""
    delivery.run(pk, eager=bool(deliver.request.is_eager))


@shared_task(name="automations")
def automations() -> dict[str, int]:
    """Failing-policy hosts and the host status check (each at most once per its interval), and old rows."""
    return {
        "failing_policies": triggers.failing_policies(),
        "host_status": triggers.host_status(),
        "pruned": delivery.prune(),
    }


@shared_task(name="vulnerabilities-webhook", ignore_result=True)
def vulnerabilities_webhook(run_at: str) -> int:
    """Messages for the CVEs a matching run found new to the fleet."""
    return triggers.new_vulnerabilities(datetime.fromisoformat(run_at))
