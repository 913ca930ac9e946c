"""Scheduled jobs for queries, hosts and carves (STYLE 5.2). Each is idempotent: running it twice does no harm."""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from carves import service as carve_service
from hosts.models import Host
from queries import campaigns, policies, reports
from queries.models import PolicyMembership

logger = logging.getLogger(__name__)


@shared_task(name="cleanup-campaigns")
def cleanup_campaigns() -> dict[str, int]:
    """Complete expired campaigns so they stop reaching hosts; delete old completed ones."""
    return {"completed": campaigns.cleanup_expired(), "deleted": campaigns.delete_old()}


@shared_task(name="expire-carves")
def expire_carves() -> int:
    return carve_service.expire_old(settings.FLEETSITE_CARVE_RETENTION_DAYS)


@shared_task(name="expire-device-tokens")
def expire_device_tokens() -> int:
    """Forget device tokens past their TTL; Fleet Desktop gets a new one from orbit."""
    cutoff = timezone.now() - settings.FLEETSITE_DEVICE_TOKEN_TTL
    return Host.objects.filter(device_token_updated_at__lt=cutoff).update(
        device_token_digest=None, device_token_updated_at=None
    )


@shared_task(name="expire-hosts")
def expire_hosts() -> int:
    """Fleet's host expiry: delete hosts unseen for FLEETSITE_HOST_EXPIRY_DAYS (off when 0)."""
    days = settings.FLEETSITE_HOST_EXPIRY_DAYS
    if not days:
        return 0
    deleted, _ = Host.objects.filter(seen_time__lt=timezone.now() - timedelta(days=days)).delete()
    return deleted


@shared_task(name="enforce-report-retention")
def enforce_report_retention() -> int:
    """Query reports keep each query's rows only as long and as many as its retention settings say."""
    return reports.enforce_retention()


@shared_task(name="refresh-policy-counts")
def refresh_policy_counts() -> int:
    return policies.refresh_counts()


@shared_task(name="failing-policies-webhook")
def failing_policies_webhook() -> int:
    """Post hosts that started failing automated policies; cleared only after the webhook accepted them."""
    url = settings.FLEETSITE_FAILING_POLICIES_WEBHOOK_URL
    if not url:
        return 0
    sent = 0
    for entry in policies.failing_hosts_report():
        ids = entry.pop("_ids")
        payload = {**entry, "timestamp": timezone.now().isoformat()}
        try:
            response = httpx.post(url, json=payload, timeout=10)
            response.raise_for_status()
        except httpx.HTTPError:
            logger.warning("failing-policies webhook to %s failed; will retry on the next run", url, exc_info=True)
            return sent
        PolicyMembership.objects.filter(pk__in=ids).update(webhook_pending=False)
        sent += len(ids)
    return sent
