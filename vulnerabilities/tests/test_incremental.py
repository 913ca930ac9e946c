"""Hourly runs work from the change log: the same answer as a full run, for a fraction of the work."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from hosts.models import Host, HostSoftware
from vulnerabilities import changes, feeds, matching
from vulnerabilities.models import HostVulnerability, SoftwareChange
from vulnerabilities.tests.fixtures import FEEDS, LATER, report_software, software
from vulnerabilities.tests.test_matching import DSA_5343, open_cves

pytestmark = pytest.mark.django_db


@pytest.fixture
def matched(fleet: dict[str, Host]) -> dict[str, Host]:
    feeds.import_path(FEEDS)
    assert matching.run().mode == "full"
    return fleet


def installed(host: Host) -> list:
    return [row.software for row in HostSoftware.objects.filter(host=host).select_related("software")]


def assert_a_full_run_agrees() -> None:
    """Whatever the change-log run did, recomputing everything finds nothing to open or resolve."""
    report = matching.run(now=timezone.now() + timedelta(days=1), full=True)
    assert (report.opened, report.resolved) == (0, 0)


def test_a_checkin_that_installs_vulnerable_software_opens_only_that_hosts_cves(matched: dict[str, Host]) -> None:
    win, mac = matched["win"], matched["mac"]
    before = dict(HostVulnerability.objects.values_list("id", "first_detected_at"))
    chrome = software("Google Chrome.app", "120.0.6099.71", "apps", "com.google.Chrome")
    report_software(win, *installed(win), software("requests", "2.28.1", "python_packages"))
    assert SoftwareChange.objects.count() == 1

    report = matching.run()

    assert (report.mode, report.changes, report.opened, report.resolved) == ("changes", 1, 1, 0)
    assert open_cves(win) == {"CVE-2023-4863", "CVE-2023-32681"}
    assert chrome in installed(mac) and "CVE-2023-7024" in open_cves(mac)
    assert dict(HostVulnerability.objects.filter(id__in=before).values_list("id", "first_detected_at")) == before
    assert SoftwareChange.objects.count() == 0
    assert_a_full_run_agrees()


def test_removing_software_resolves_its_cves_with_the_runs_time(matched: dict[str, Host]) -> None:
    old = matched["old"]
    report_software(old)
    later = timezone.now() + timedelta(hours=1)

    report = matching.run(now=later)

    assert (report.mode, report.resolved) == ("changes", len(DSA_5343))
    assert open_cves(old) == set()
    assert set(HostVulnerability.objects.filter(host=old).values_list("resolved_at", flat=True)) == {later}
    assert_a_full_run_agrees()


def test_a_package_reinstalled_between_runs_keeps_one_open_row_per_cve(matched: dict[str, Host]) -> None:
    old = matched["old"]
    packages = installed(old)
    report_software(old)
    report_software(old, *packages)

    matching.run()

    open_rows = HostVulnerability.objects.filter(host=old, resolved_at__isnull=True)
    assert sorted(open_rows.values_list("cve", flat=True)) == sorted(DSA_5343)
    assert_a_full_run_agrees()


def test_a_host_moving_to_another_release_has_its_packages_matched_again(matched: dict[str, Host]) -> None:
    # The Ubuntu host's openssl build is the vulnerable Debian 11 one; as a Debian 11 host it is exposed.
    ubuntu = matched["ubuntu"]
    assert open_cves(ubuntu) == set()
    Host.objects.filter(pk=ubuntu.pk).update(platform="debian", os_version="Debian GNU/Linux 11")

    report = matching.run()

    assert report.mode == "changes" and report.changes == 0
    assert open_cves(ubuntu) == DSA_5343
    assert_a_full_run_agrees()


def test_a_new_host_is_matched_by_the_next_run(matched: dict[str, Host]) -> None:
    new = Host.objects.create(hostname="mac-2", osquery_host_id="mac-2", platform="darwin", os_version="macOS 14.2")
    report_software(new, software("requests", "2.28.1", "python_packages"))

    assert matching.run().mode == "changes"

    assert open_cves(new) == {"CVE-2023-32681"}
    assert_a_full_run_agrees()


def test_a_feed_import_makes_the_next_run_a_full_one(matched: dict[str, Host]) -> None:
    assert matching.run().mode == "changes"
    feeds.import_path(LATER)
    assert matching.run().mode == "full"
    assert matching.run().mode == "changes"


def test_a_checkin_that_changes_no_software_writes_nothing_to_the_log(matched: dict[str, Host]) -> None:
    mac = matched["mac"]
    report_software(mac, *installed(mac))
    assert SoftwareChange.objects.count() == 0


def test_a_large_backlog_is_handled_by_a_full_run(matched: dict[str, Host], monkeypatch) -> None:
    monkeypatch.setattr(matching, "FULL_RUN_CHANGES", 0)
    report_software(matched["old"])
    assert matching.run().mode == "full"
    assert open_cves(matched["old"]) == set()
    assert SoftwareChange.objects.count() == 0


def test_a_change_a_full_run_already_counted_opens_nothing_twice(matched: dict[str, Host]) -> None:
    """A check-in that commits while a full run reads leaves a log entry for an install the run saw."""
    mac = matched["mac"]
    requests = software("requests", "2.28.1", "python_packages")
    SoftwareChange.objects.create(host_id=mac.pk, software_id=requests.pk, installed=True)

    report = matching.run()

    assert (report.mode, report.opened) == ("changes", 0)
    assert HostVulnerability.objects.filter(host=mac, cve="CVE-2023-32681").count() == 1


@pytest.mark.parametrize("moment", ["while a change-log run reads", "while a full run reads"])
def test_an_install_committed_below_the_newest_entry_after_a_run_looked_is_matched_next_run(
    matched: dict[str, Host], monkeypatch, moment: str
) -> None:
    """Ids are handed out at INSERT: a check-in can commit an entry below the newest one after a run
    has read the log. That run must leave it for the next, not delete it unmatched."""
    win, mac = matched["win"], matched["mac"]
    requests = software("requests", "2.28.1", "python_packages")
    first, gap, _ = (
        SoftwareChange.objects.create(host_id=mac.pk, software_id=installed(mac)[0].pk, installed=True).pk
        for _ in range(3)
    )
    SoftwareChange.objects.filter(pk=gap).delete()  # its check-in is still in flight

    def commit_late() -> None:
        report_software(win, *installed(win), requests)
        SoftwareChange.objects.filter(host_id=win.pk).update(id=gap)

    owner, name = (changes, "read") if moment.startswith("while a change-log") else (matching, "_full_run")
    reading = getattr(owner, name)
    monkeypatch.setattr(owner, name, lambda *args: (reading(*args), commit_late())[0])
    matching.run(full=moment.endswith("full run reads"))
    monkeypatch.undo()

    assert list(SoftwareChange.objects.values_list("id", flat=True)) == [gap]
    assert "CVE-2023-32681" not in open_cves(win) and first < gap
    assert matching.run().opened == 1
    assert "CVE-2023-32681" in open_cves(win)
    assert_a_full_run_agrees()


def test_a_full_run_writes_new_hosts_whole_and_diffs_the_others(matched: dict[str, Host]) -> None:
    """A full run opens a new host's rows in one statement and compares the tracked hosts' rows: both
    ways, first detection times of rows that stay open are kept and removed software is resolved."""
    old, mac = matched["old"], matched["mac"]
    kept = dict(HostVulnerability.objects.filter(host=mac).values_list("id", "first_detected_at"))
    new = Host.objects.create(
        hostname="deb-2", osquery_host_id="deb-2", platform="debian", os_version="Debian GNU/Linux 11"
    )
    HostSoftware.objects.create(host=new, software=software("openssl", "1.1.1n-0+deb11u3", "deb_packages"))
    HostSoftware.objects.filter(host=old).delete()  # no change-log entry: only a full run can see it
    later = timezone.now() + timedelta(hours=1)

    report = matching.run(now=later, full=True)

    assert (report.opened, report.resolved) == (len(DSA_5343), len(DSA_5343))
    assert open_cves(new) == DSA_5343 and open_cves(old) == set()
    assert set(HostVulnerability.objects.filter(host=new).values_list("first_detected_at", flat=True)) == {later}
    assert set(HostVulnerability.objects.filter(host=old).values_list("resolved_at", flat=True)) == {later}
    assert dict(HostVulnerability.objects.filter(host=mac).values_list("id", "first_detected_at")) == kept
    assert_a_full_run_agrees()
