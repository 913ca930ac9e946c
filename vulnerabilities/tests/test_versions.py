"""Version rules: each ecosystem's own ordering, OSV range events and NVD CPE bounds (never string order)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from hosts.models import Software
from vulnerabilities import ecosystems, feeds, matching
from vulnerabilities.models import CVE, HostVulnerability
from vulnerabilities.tests.fixtures import FEEDS, install, make_host, software


def rng(*events: dict[str, str]) -> list[dict]:
    return [{"type": "ECOSYSTEM", "events": list(events)}]


@pytest.mark.parametrize(
    ("base", "version", "events", "affected"),
    [
        # Debian: the epoch and the +debNuM back-port suffix count, "~" sorts before anything.
        ("Debian", "1:2.0-1", [{"introduced": "0"}, {"fixed": "1:2.0-2"}], True),
        ("Debian", "2.0~rc1-1", [{"introduced": "2.0-1"}], False),
        # PEP 440: 2.10 is after 2.9, and 2.31.0rc1 is before 2.31.0.
        ("PyPI", "2.10.0", [{"introduced": "2.3.0"}, {"fixed": "2.9.0"}], False),
        ("PyPI", "2.31.0rc1", [{"introduced": "2.3.0"}, {"fixed": "2.31.0"}], True),
        # last_affected includes its own version; limit excludes.
        ("PyPI", "1.11.0", [{"introduced": "0"}, {"last_affected": "1.11.0"}], True),
        ("PyPI", "1.11.1", [{"introduced": "0"}, {"last_affected": "1.11.0"}], False),
        ("npm", "4.17.20", [{"introduced": "0"}, {"fixed": "4.17.21"}], True),
        ("npm", "4.17.21", [{"introduced": "0"}, {"fixed": "4.17.21"}], False),
        # Two introduced/fixed pairs: between them is safe.
        ("PyPI", "1.5", [{"introduced": "1.0"}, {"fixed": "1.2"}, {"introduced": "2.0"}, {"fixed": "2.1"}], False),
        ("PyPI", "2.0.5", [{"introduced": "1.0"}, {"fixed": "1.2"}, {"introduced": "2.0"}, {"fixed": "2.1"}], True),
        ("Rocky Linux", "1.1.1k-7.el8_6", [{"introduced": "0"}, {"fixed": "1:1.1.1k-9.el8_7"}], True),
    ],
)
def test_osv_ranges(base: str, version: str, events: list[dict], affected: bool) -> None:
    assert ecosystems.osv_affected(base, version, rng(*events), []) is affected


def test_explicit_versions_and_unparsable_versions() -> None:
    assert ecosystems.osv_affected("PyPI", "weird", [], ["weird"]) is True
    assert ecosystems.osv_affected("PyPI", "not a version!", rng({"introduced": "0"}), []) is False
    git = [{"type": "GIT", "events": [{"introduced": "0"}]}]
    assert ecosystems.osv_affected("PyPI", "1.0", git, []) is False


def test_cpe_bounds_compare_numerically() -> None:
    bounds = dict.fromkeys(("version", "start_including", "start_excluding", "end_including", "end_excluding"), "")
    assert ecosystems.cpe_in_range("120.0.6099.71", {**bounds, "end_excluding": "120.0.6099.129"})
    assert not ecosystems.cpe_in_range("120.0.6099.129", {**bounds, "end_excluding": "120.0.6099.129"})
    assert ecosystems.cpe_in_range("14.1.2", {**bounds, "end_including": "14.1.2"})
    assert not ecosystems.cpe_in_range("9.1", {**bounds, "start_including": "10.0"})
    assert ecosystems.cpe_in_range("3.0.7", {**bounds, "version": "3.0.7"})


def test_purls() -> None:
    assert ecosystems.package_url("deb_packages", "openssl", "1.1.1n-0+deb11u4", "debian", "amd64") == (
        "pkg:deb/debian/openssl@1.1.1n-0%2Bdeb11u4?arch=amd64"
    )
    assert ecosystems.package_url("python_packages", "requests", "2.28.1") == "pkg:pypi/requests@2.28.1"
    assert ecosystems.package_url("apps", "Google Chrome.app", "120") == ""


@pytest.mark.django_db
def test_rpm_version_and_release_are_matched_together(tmp_path: Path) -> None:
    """A synthetic OSV record for Rocky Linux 9: the host's rpm release decides, not its version alone."""
    doc = {
        "schema_version": "1.6.0", "id": "TEST-RLSA-0001", "modified": "2024-01-01T00:00:00Z",
        "aliases": ["CVE-2000-0001"],
        "affected": [{"package": {"ecosystem": "Rocky Linux:9", "name": "openssl"},
                      "ranges": rng({"introduced": "0"}, {"fixed": "1:3.0.7-18.el9_2"})}],
    }  # fmt: skip
    (tmp_path / "a.json").write_text(json.dumps(doc))
    feeds.import_path(tmp_path)
    old = make_host("rocky-old", "rocky", "Rocky Linux 9.2")
    install(old, _rpm("openssl", "3.0.7", "16.el9_2"))
    new = make_host("rocky-new", "rocky", "Rocky Linux 9.2")
    install(new, _rpm("openssl", "3.0.7", "18.el9_2"))
    rocky8 = make_host("rocky8", "rocky", "Rocky Linux 8.9")
    install(rocky8, _rpm("openssl", "3.0.7", "16.el9_2"))
    matching.run()
    assert list(HostVulnerability.objects.values_list("host__hostname", "cve")) == [("rocky-old", "CVE-2000-0001")]


def _rpm(name: str, version: str, release: str) -> Software:
    return software(name, version, "rpm_packages", release=release)


@pytest.mark.django_db
def test_sync_downloads_then_imports_and_reports_failures(monkeypatch: pytest.MonkeyPatch, settings) -> None:
    """No network: `download` is replaced by a copy of the fixture files."""
    settings.FLEETSITE_VULN_SYNC = True
    settings.FLEETSITE_VULN_NVD_URLS = ["https://mirror.example/nvdcve-2.0-sample.json"]
    settings.FLEETSITE_VULN_OSV_URLS = []
    settings.FLEETSITE_VULN_EPSS_URLS = []
    settings.FLEETSITE_VULN_KEV_URLS = ["https://mirror.example/missing.json"]
    from vulnerabilities import sync

    def fake_download(url: str, folder: Path) -> Path:
        if "missing" in url:
            raise OSError("404 Not Found")
        return Path(shutil.copy(FEEDS / "nvd" / "nvdcve-2.0-sample.json", folder))

    monkeypatch.setattr(sync, "download", fake_download)
    report = sync.sync()
    assert CVE.objects.filter(cve="CVE-2023-7024", cvss_score=8.8).exists()
    assert report.errors == ["https://mirror.example/missing.json: download failed: 404 Not Found"]


def test_beat_runs_matching_hourly_on_the_scheduled_queue(settings) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["match-vulnerabilities"]
    assert entry["schedule"] == 3600.0 and entry["options"]["expires"]
    assert settings.CELERY_TASK_ROUTES["match-vulnerabilities"] == {"queue": "scheduled"}


@pytest.mark.django_db
def test_match_command(fleet: dict) -> None:
    import io

    feeds.import_path(FEEDS)
    out = io.StringIO()
    call_command("vulnerabilities", "match", stdout=out)
    assert "host vulnerabilities opened" in out.getvalue()
