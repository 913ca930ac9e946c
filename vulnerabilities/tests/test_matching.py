"""Matching: exactly the expected CVEs per host, back-ports cleared by OSV, history across upgrades."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from hosts.models import Host, HostSoftware
from vulnerabilities import feeds, matching
from vulnerabilities.models import HostVulnerability, OSVersion, SoftwareVulnerability
from vulnerabilities.tests.fixtures import FEEDS, LATER, report_software, software

pytestmark = pytest.mark.django_db

DSA_5343 = {"CVE-2022-4304", "CVE-2022-4450", "CVE-2023-0215", "CVE-2023-0286"}


def open_cves(host: Host) -> set[str]:
    return set(HostVulnerability.objects.filter(host=host, resolved_at__isnull=True).values_list("cve", flat=True))


@pytest.fixture
def matched(fleet: dict[str, Host]) -> dict[str, Host]:
    feeds.import_path(FEEDS)
    matching.run()
    return fleet


def test_each_host_gets_exactly_its_cves(matched: dict[str, Host]) -> None:
    # Chrome by CPE (KEV), requests and py by OSV's PyPI ranges, macOS 14.1.1 by the OS CPE.
    assert open_cves(matched["mac"]) == {"CVE-2023-7024", "CVE-2023-32681", "CVE-2022-42969", "CVE-2023-42916"}
    assert open_cves(matched["win"]) == {"CVE-2023-4863"}
    assert open_cves(matched["old"]) == DSA_5343
    # NVD's openssl range (1.1.1 to before 1.1.1t) would flag 1.1.1n; Debian's back-port fixed it.
    assert open_cves(matched["patched"]) == set()
    # Same package and version on Ubuntu: a Debian 11 advisory says nothing about it.
    assert open_cves(matched["ubuntu"]) == set()


def test_os_versions_are_their_own_objects(matched: dict[str, Host]) -> None:
    macos = OSVersion.objects.get(name="macOS 14.1.1")
    assert (macos.name_only, macos.version, macos.platform) == ("macOS", "14.1.1", "darwin")
    assert list(macos.vulnerabilities.values_list("cve", "resolved_in_version")) == [("CVE-2023-42916", "14.1.2")]


@pytest.mark.parametrize(
    ("name", "platform", "expected"),
    [
        ("macOS 14.1.1", "darwin", ("macOS", "14.1.1")),
        ("Ubuntu 22.04.3 LTS", "ubuntu", ("Ubuntu", "22.04.3 LTS")),
        ("Windows 11 Pro 23H2 10.0.22631.2861", "windows", ("Windows 11 Pro", "23H2 10.0.22631.2861")),
        (
            "Windows Server 2019 Datacenter 10.0.17763.5122",
            "windows",
            ("Windows Server 2019 Datacenter", "10.0.17763.5122"),
        ),
        ("Arch Linux", "arch", ("Arch Linux", "")),
    ],
)
def test_os_names_split_into_name_and_version(name: str, platform: str, expected: tuple[str, str]) -> None:
    assert matching.split_os_name(name, platform) == expected


def test_resolved_in_version_comes_from_the_feed(matched: dict[str, Host]) -> None:
    requests = SoftwareVulnerability.objects.get(cve="CVE-2023-32681")
    assert (requests.source, requests.resolved_in_version) == ("osv", "2.31.0")
    chrome = SoftwareVulnerability.objects.get(cve="CVE-2023-7024")
    assert (chrome.source, chrome.resolved_in_version) == ("nvd", "120.0.6099.129")


def test_upgrading_a_package_resolves_the_cve_with_a_time(matched: dict[str, Host]) -> None:
    host = matched["mac"]
    first = HostVulnerability.objects.get(host=host, cve="CVE-2023-32681")
    kept = [hs.software for hs in HostSoftware.objects.filter(host=host).exclude(software__name="requests")]
    report_software(host, *kept, software("requests", "2.31.0", "python_packages"))
    later = timezone.now() + timedelta(hours=1)
    report = matching.run(now=later)
    assert report.mode == "changes"
    assert report.resolved == 1 and report.opened == 0
    first.refresh_from_db()
    assert first.resolved_at == later
    assert "CVE-2023-32681" not in open_cves(host)


def test_rerunning_keeps_first_detected_at(matched: dict[str, Host]) -> None:
    before = dict(HostVulnerability.objects.values_list("id", "first_detected_at"))
    report = matching.run(now=timezone.now() + timedelta(hours=2))
    assert (report.opened, report.resolved) == (0, 0)
    assert dict(HostVulnerability.objects.values_list("id", "first_detected_at")) == before


def test_a_withdrawn_advisory_stops_matching(matched: dict[str, Host]) -> None:
    assert "CVE-2022-42969" in open_cves(matched["mac"])
    feeds.import_path(LATER)
    matching.run()
    assert "CVE-2022-42969" not in open_cves(matched["mac"])


def test_import_queues_matching_after_commit(
    fleet: dict[str, Host], django_capture_on_commit_callbacks, eager_celery: None
) -> None:
    """Matching is a Celery job queued on commit (eager in tests), never part of the import's transaction."""
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        feeds.import_path(FEEDS)
    assert len(callbacks) == 1
    assert open_cves(fleet["win"]) == {"CVE-2023-4863"}


def test_a_cve_nvd_rejects_later_is_no_longer_matched_by_cpe(matched: dict[str, Host], tmp_path) -> None:
    import json

    doc = json.loads((FEEDS / "nvd" / "nvdcve-2.0-sample.json").read_text())
    record = doc["vulnerabilities"][0]["cve"]
    assert record["id"] == "CVE-2023-7024"
    record.update(vulnStatus="Rejected", lastModified="2025-01-01T00:00:00.000")
    doc["vulnerabilities"] = doc["vulnerabilities"][:1]
    (tmp_path / "nvd.json").write_text(json.dumps(doc))
    assert feeds.import_path(tmp_path).errors == []
    matching.run()
    assert "CVE-2023-7024" not in open_cves(matched["mac"])
    assert HostVulnerability.objects.get(cve="CVE-2023-7024").resolved_at is not None
