"""Background vulnerability work: matching (hourly and after imports) and feed downloads."""

from __future__ import annotations

import dataclasses

from celery import shared_task
from django.conf import settings
from django.db import transaction


@shared_task(name="match-vulnerabilities")
def match_vulnerabilities() -> dict:
    from vulnerabilities import matching

    return dataclasses.asdict(matching.run())


@shared_task(name="sync-vulnerabilities")
def sync_vulnerabilities() -> list[str]:
    """Download and import the configured feeds when FLEETSITE_VULN_SYNC is on; errors are returned, not raised."""
    if not settings.FLEETSITE_VULN_SYNC:
        return []
    from vulnerabilities import sync

    return sync.sync().errors


def queue_matching() -> None:
    """Run matching once the import's rows are committed (a worker must never see them half-written)."""
    transaction.on_commit(lambda: match_vulnerabilities.delay())
