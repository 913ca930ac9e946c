"""Feed imports: every format loads, re-imports change nothing, and a bad feed keeps the previous data."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from vulnerabilities import feeds
from vulnerabilities.models import CVE, Advisory, AffectedPackage, CPEMatch
from vulnerabilities.tests.fixtures import FEEDS, LATER

pytestmark = pytest.mark.django_db


def test_fixture_feeds_load_cvss_epss_kev_and_osv_ranges() -> None:
    report = feeds.import_path(FEEDS)
    assert report.errors == []
    chrome = CVE.objects.get(cve="CVE-2023-7024")
    assert chrome.cvss_score == 8.8 and chrome.severity == "HIGH"
    assert chrome.cisa_known_exploit is True
    assert chrome.epss_probability == pytest.approx(0.0122)
    assert chrome.published.isoformat() == "2023-12-21T23:15:11.213000+00:00"
    assert CVE.objects.get(cve="CVE-2023-0286").cisa_known_exploit is False
    match = CPEMatch.objects.get(cve=chrome)
    assert (match.vendor, match.product, match.end_excluding) == ("google", "chrome", "120.0.6099.129")
    openssl = AffectedPackage.objects.get(advisory__osv_id="DSA-5343-1")
    assert (openssl.ecosystem_base, openssl.release, openssl.fixed) == ("Debian", "11", "1.1.1n-0+deb11u4")
    # The DSA names four upstream CVEs: each gets a CVE row even where NVD has not been loaded.
    assert set(Advisory.objects.get(osv_id="DSA-5343-1").cves.values_list("cve", flat=True)) == {
        "CVE-2022-4304", "CVE-2022-4450", "CVE-2023-0215", "CVE-2023-0286",
    }  # fmt: skip


def test_reimport_is_idempotent() -> None:
    feeds.import_path(FEEDS)
    before = (CVE.objects.count(), CPEMatch.objects.count(), AffectedPackage.objects.count())
    again = feeds.import_path(FEEDS)
    assert again.errors == [] and again.created == 0
    assert (CVE.objects.count(), CPEMatch.objects.count(), AffectedPackage.objects.count()) == before
    # NVD and OSV records with the same `modified` are skipped, not rewritten.
    assert again.unchanged >= 5 + 3


def test_later_feed_withdraws_the_advisory_and_its_osv_only_cve() -> None:
    feeds.import_path(FEEDS)
    assert CVE.objects.get(cve="CVE-2022-42969").withdrawn is False
    report = feeds.import_path(LATER)
    assert report.errors == [] and report.updated == 1
    assert Advisory.objects.get(osv_id="GHSA-w596-4wvx-j9j6").withdrawn is not None
    assert CVE.objects.get(cve="CVE-2022-42969").withdrawn is True


def _nvd(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nvdcve-2.0-bad.json"
    path.write_text(text)
    return path


def test_truncated_json_is_reported_with_file_and_line_and_keeps_old_data(tmp_path: Path) -> None:
    feeds.import_path(FEEDS)
    good = (FEEDS / "nvd" / "nvdcve-2.0-sample.json").read_text()
    # The same records, newer, but cut off half way: nothing of it may be applied.
    newer = good.replace("2024-01-05T16:15:08.563", "2025-01-01T00:00:00.000").replace(
        '"baseScore": 8.8', '"baseScore": 1.0'
    )
    bad = _nvd(tmp_path, newer[: len(newer) // 2])
    report = feeds.import_path(bad)
    assert len(report.errors) == 1
    assert str(bad) in report.errors[0] and "line " in report.errors[0] and "invalid JSON" in report.errors[0]
    assert CVE.objects.get(cve="CVE-2023-7024").cvss_score == 8.8


def test_wrong_nvd_schema_version_is_refused(tmp_path: Path) -> None:
    feeds.import_path(FEEDS)
    doc = json.loads((FEEDS / "nvd" / "nvdcve-2.0-sample.json").read_text())
    doc["version"] = "1.1"
    doc["vulnerabilities"][0]["cve"]["lastModified"] = "2025-01-01T00:00:00.000"
    doc["vulnerabilities"][0]["cve"]["descriptions"][0]["value"] = "replaced"
    report = feeds.import_path(_nvd(tmp_path, json.dumps(doc)))
    assert "NVD schema version '1.1' is not supported (expected 2.0)" in report.errors[0]
    assert CVE.objects.get(cve="CVE-2023-7024").description.startswith("Heap buffer overflow")


def test_wrong_osv_schema_version_is_refused(tmp_path: Path) -> None:
    doc = json.loads((FEEDS / "osv" / "PYSEC-2023-74.json").read_text())
    doc["schema_version"] = "2.0.0"
    path = tmp_path / "PYSEC-2023-74.json"
    path.write_text(json.dumps(doc))
    report = feeds.import_path(path)
    assert "OSV schema_version '2.0.0' is not supported" in report.errors[0]
    assert not Advisory.objects.exists()


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path, settings) -> None:
    settings.FLEETSITE_VULN_MAX_FEED_BYTES = 1024
    path = tmp_path / "huge.json"
    path.write_bytes(b" " * 2048)
    report = feeds.import_path(path)
    assert "over the 1024-byte feed limit" in report.errors[0]


def test_one_bad_file_in_a_folder_does_not_stop_the_others(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{")
    (tmp_path / "b.json").write_text((FEEDS / "osv" / "PYSEC-2023-74.json").read_text())
    report = feeds.import_path(tmp_path)
    assert len(report.errors) == 1 and "a.json" in report.errors[0]
    assert Advisory.objects.filter(osv_id="PYSEC-2023-74").exists()


def test_osv_ecosystem_zip_and_gzipped_epss(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for name in ("PYSEC-2023-74.json", "DSA-5343-1.json"):
            out.write(FEEDS / "osv" / name, name)
    assert feeds.import_path(archive).errors == []
    assert set(Advisory.objects.values_list("osv_id", flat=True)) == {"PYSEC-2023-74", "DSA-5343-1"}
    epss = tmp_path / "epss_scores-current.csv.gz"
    epss.write_bytes(gzip.compress((FEEDS / "epss" / "epss_scores-2024-01-09.csv").read_bytes()))
    assert feeds.import_path(epss).errors == []
    assert CVE.objects.get(cve="CVE-2023-32681").epss_probability == pytest.approx(0.0009)


def test_nvd_yearly_feed_zip(tmp_path: Path) -> None:
    archive = tmp_path / "nvdcve-2.0-2023.json.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.write(FEEDS / "nvd" / "nvdcve-2.0-sample.json", "nvdcve-2.0-2023.json")
    assert feeds.import_path(archive).errors == []
    assert CVE.objects.get(cve="CVE-2023-42916").cvss_score == 6.5


def test_bad_epss_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "epss.csv"
    path.write_text("#model_version:x\ncve,epss,percentile\nCVE-2023-7024,0.1,0.2\nCVE-2023-4863,oops,0.1\n")
    report = feeds.import_path(path)
    assert "line 4" in report.errors[0]


def test_command_imports_and_fails_loudly_on_a_bad_feed(tmp_path: Path) -> None:
    out = io.StringIO()
    call_command("vulnerabilities", "import", str(FEEDS / "osv"), stdout=out)
    assert "3 files imported" in out.getvalue()
    (tmp_path / "bad.json").write_text("[1, 2")
    with pytest.raises(CommandError, match="1 feed file"):
        call_command("vulnerabilities", "import", str(tmp_path), stdout=io.StringIO(), stderr=io.StringIO())


def test_sync_is_off_by_default() -> None:
    with pytest.raises(CommandError, match="FLEETSITE_VULN_SYNC"):
        call_command("vulnerabilities", "sync", stdout=io.StringIO())
