"""The vulnerabilities webhook: sent by a matching run that opened CVEs new to the fleet, once."""

from __future__ import annotations

import pytest

from vulnerabilities import feeds, matching
from vulnerabilities.models import HostVulnerability
from vulnerabilities.tests.fixtures import FEEDS
from webhooks.models import AutomationSettings, Delivery

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


def test_new_cves_are_posted_once_per_host_batch(fleet, receiver, django_capture_on_commit_callbacks):
    hook = {"enable_vulnerabilities_webhook": True, "destination_url": f"{receiver.url}/v", "host_batch_size": 1}
    AutomationSettings(pk=1, webhook_settings={"vulnerabilities_webhook": hook}).save()
    feeds.import_path(FEEDS)
    with django_capture_on_commit_callbacks(execute=True):
        report = matching.run()
    assert report.opened
    posts = receiver.posts("/v")
    open_pairs = set(HostVulnerability.objects.filter(resolved_at__isnull=True).values_list("cve", "host_id"))
    assert {(p["vulnerability"]["cve"], p["vulnerability"]["hosts_affected"][0]["id"]) for p in posts} == open_pairs
    sent = posts[0]
    assert set(sent) == {"timestamp", "vulnerability"}
    vuln = sent["vulnerability"]
    assert vuln["details_link"] == f"https://nvd.nist.gov/vuln/detail/{vuln['cve']}"
    assert set(vuln["hosts_affected"][0]) == {"id", "hostname", "display_name", "url"}
    assert len(vuln["hosts_affected"]) == 1
    # Nothing new opened: nothing sent.
    with django_capture_on_commit_callbacks(execute=True):
        matching.run()
    assert len(receiver.posts("/v")) == len(posts)


def test_off_means_no_rows_and_no_posts(fleet, receiver, django_capture_on_commit_callbacks):
    feeds.import_path(FEEDS)
    with django_capture_on_commit_callbacks(execute=True):
        assert matching.run().opened
    assert receiver.received == []
    assert Delivery.objects.count() == 0
