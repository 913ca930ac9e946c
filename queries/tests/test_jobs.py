"""Scheduled jobs: each runs from `run_job`, does its work, and is harmless to repeat."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from carves.models import Carve, CarveBlock
from fleetsite.scheduler import InProcessScheduler, run_job
from hosts.models import Host
from queries import campaigns
from queries.choices import CampaignStatus
from queries.models import Campaign, Query


def test_run_job_lists_and_runs_jobs(db):
    out = StringIO()
    call_command("run_job", stdout=out)
    assert "cleanup-campaigns" in out.getvalue()
    out = StringIO()
    call_command("run_job", "expire-hosts", stdout=out)
    assert out.getvalue().strip() == "expire-hosts: 0"
    with pytest.raises(CommandError, match="unknown job"):
        call_command("run_job", "nope")


def test_cleanup_completes_expired_and_deletes_old_campaigns(admin, ubuntu_host, settings):
    query = Query.objects.create(name="q", query="SELECT 1;", saved=False)
    live = campaigns.start(admin, query, {"hosts": [ubuntu_host.host.pk]})
    expired = campaigns.start(admin, query, {"hosts": [ubuntu_host.host.pk]})
    old = campaigns.start(admin, query, {"hosts": [ubuntu_host.host.pk]})
    Campaign.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    Campaign.objects.filter(pk=old.pk).update(status=CampaignStatus.COMPLETE)
    Campaign.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=30))
    assert run_job("cleanup-campaigns") == {"completed": 1, "deleted": 1}
    assert Campaign.objects.get(pk=live.pk).status == CampaignStatus.WAITING
    assert Campaign.objects.get(pk=expired.pk).status == CampaignStatus.COMPLETE
    assert not Campaign.objects.filter(pk=old.pk).exists()
    assert run_job("cleanup-campaigns") == {"completed": 0, "deleted": 0}


def test_device_tokens_expire(ubuntu_host, settings):
    Host.objects.update(device_token_digest="x" * 64, device_token_updated_at=timezone.now() - timedelta(hours=2))
    assert run_job("expire-device-tokens") == 1
    assert Host.objects.get().device_token_digest is None
    assert run_job("expire-device-tokens") == 0


def test_host_expiry_is_off_by_default_and_deletes_stale_hosts_when_on(ubuntu_host, settings):
    Host.objects.update(seen_time=timezone.now() - timedelta(days=40))
    assert run_job("expire-hosts") == 0
    settings.FLEETSITE_HOST_EXPIRY_DAYS = 30
    assert run_job("expire-hosts") >= 1
    assert not Host.objects.exists()


def test_old_carves_expire_and_lose_their_blocks(ubuntu_host):
    carve = Carve.objects.create(
        host=ubuntu_host.host, name="c", session_id="s", request_id="r", carve_id="c", block_count=1, block_size=1,
        carve_size=1, created_at=timezone.now() - timedelta(days=30),
    )  # fmt: skip
    CarveBlock.objects.create(carve=carve, block_id=0, data=b"x")
    assert run_job("expire-carves") == 1
    assert Carve.objects.get().expired is True and not CarveBlock.objects.exists()


def test_in_process_scheduler_runs_due_jobs(db, settings, monkeypatch):
    ran = []
    monkeypatch.setattr("fleetsite.scheduler.run_job", lambda name: ran.append(name))
    settings.CELERY_BEAT_SCHEDULE = {"cleanup-campaigns": {"task": "cleanup-campaigns", "schedule": 0.2}}
    scheduler = InProcessScheduler()
    scheduler.start()
    try:
        deadline = timezone.now() + timedelta(seconds=5)
        while len(ran) < 2 and timezone.now() < deadline:
            scheduler._stop_event.wait(0.1)
    finally:
        scheduler.stop()
        scheduler.join(2)
    assert ran[:2] == ["cleanup-campaigns", "cleanup-campaigns"]


def test_report_retention_job_trims_old_rows(ubuntu_host):
    from queries.models import QueryReportRow

    query = Query.objects.create(name="usb", query="SELECT 1;", interval=60, report_max_age_days=1)
    QueryReportRow.objects.create(query=query, host=ubuntu_host.host, data={"a": 1}, last_fetched=timezone.now())
    QueryReportRow.objects.create(
        query=query, host=ubuntu_host.host, data={"a": 2}, last_fetched=timezone.now() - timedelta(days=3)
    )
    assert run_job("enforce-report-retention") == 1
    assert list(QueryReportRow.objects.values_list("data", flat=True)) == [{"a": 1}]
    assert run_job("enforce-report-retention") == 0
