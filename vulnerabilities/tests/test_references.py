"""NVD references: kept on import (http/https only, a bounded number), shown as safe links on the CVE page,
and Fleet's `details_link` in every REST shape that carries a CVE."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.test import Client

from accounts.models import User
from conftest import APIClient
from hosts.models import Host
from vulnerabilities import feeds, matching
from vulnerabilities.models import CVE
from vulnerabilities.tests.fixtures import FEEDS

NVD_SAMPLE = FEEDS / "nvd" / "nvdcve-2.0-sample.json"
CHROME_REFS = [
    "https://chromereleases.googleblog.com/2023/12/stable-channel-update-for-desktop_20.html",
    "https://crbug.com/1513170",
]


def _feed_with(tmp_path: Path, references: list, modified: str = "2025-01-01T00:00:00.000") -> Path:
    """The NVD sample with CVE-2023-7024 changed later and carrying `references`."""
    doc = json.loads(NVD_SAMPLE.read_text())
    record = doc["vulnerabilities"][0]["cve"]
    assert record["id"] == "CVE-2023-7024"
    record["lastModified"], record["references"] = modified, references
    path = tmp_path / "nvdcve-2.0-later.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.django_db
def test_import_keeps_the_nvd_references_with_source_and_tags() -> None:
    assert feeds.import_path(FEEDS).errors == []
    chrome = CVE.objects.get(cve="CVE-2023-7024")
    assert [ref["url"] for ref in chrome.references] == CHROME_REFS
    assert chrome.references[0] == {
        "url": CHROME_REFS[0], "source": "chrome-cve-admin@google.com", "tags": ["Release Notes", "Vendor Advisory"],
    }  # fmt: skip
    assert CVE.objects.get(cve="CVE-2023-4863").references == []  # none in the feed
    # OSV-only CVEs (the DSA's upstream ids NVD did not bring) have none either.
    assert CVE.objects.get(cve="CVE-2022-4304").references == []


@pytest.mark.django_db
def test_only_http_urls_are_kept_and_at_most_max_references(tmp_path: Path) -> None:
    feeds.import_path(FEEDS)
    hostile = [
        {"url": "javascript:alert(document.cookie)"},
        {"url": "JavaScript:alert(1)", "tags": ["Exploit"]},
        {"url": "data:text/html,<script>alert(1)</script>"},
        {"url": "ftp://ftp.example.org/advisory.txt"},
        {"url": "/relative/path"},
        {"url": "https://exa mple.org/space"},
        {"url": 'https://example.org/"><script>alert(1)</script>'},
        {"url": 42},
        "not an object",
        {"url": "http://example.org/ok", "source": "x" * 500, "tags": ["Patch"] * 20},
        {"url": "http://example.org/ok"},  # the same URL again
    ]
    many = [{"url": f"https://example.org/advisory/{i}"} for i in range(feeds.MAX_REFERENCES + 5)]
    assert feeds.import_path(_feed_with(tmp_path, hostile + many)).errors == []
    refs = CVE.objects.get(cve="CVE-2023-7024").references
    assert len(refs) == feeds.MAX_REFERENCES
    assert refs[0] == {
        "url": "http://example.org/ok",
        "source": "x" * 128,
        "tags": ["Patch"] * feeds.MAX_REFERENCE_TAGS,
    }
    assert [r["url"] for r in refs[1:]] == [
        f"https://example.org/advisory/{i}" for i in range(feeds.MAX_REFERENCES - 1)
    ]
    # A feed whose references are no list at all is no error: the CVE simply has none.
    assert feeds.import_path(_feed_with(tmp_path, "nope", "2025-02-01T00:00:00.000")).errors == []  # type: ignore[arg-type]
    assert CVE.objects.get(cve="CVE-2023-7024").references == []


@pytest.mark.django_db
def test_cves_stored_before_references_get_them_from_an_unchanged_feed() -> None:
    feeds.import_path(FEEDS)
    CVE.objects.update(references=[])  # as stored by a Fleetsite from before references were kept
    report = feeds.import_path(FEEDS)
    assert report.errors == [] and report.updated == 3  # the three sample CVEs that have references
    assert [r["url"] for r in CVE.objects.get(cve="CVE-2023-7024").references] == CHROME_REFS
    assert feeds.import_path(FEEDS).updated == 0


@pytest.fixture
def matched(fleet: dict[str, Host]) -> dict[str, Host]:
    feeds.import_path(FEEDS)
    matching.run()
    return fleet


def test_cve_page_links_out_to_the_references(admin: User, matched: dict[str, Host], tmp_path: Path) -> None:
    client = Client()
    client.force_login(admin)
    html = client.get("/vulnerabilities/CVE-2023-7024/").content.decode()
    refs = html.split(">References<", 1)[1].split("</ul>", 1)[0]
    links = re.findall(r'<a href="([^"]+)" rel="([^"]+)">', refs)
    assert links[:3] == [
        ("https://nvd.nist.gov/vuln/detail/CVE-2023-7024", "noopener noreferrer"),
        (CHROME_REFS[0], "noopener noreferrer"),
        (CHROME_REFS[1], "noopener noreferrer"),
    ]
    assert "Release Notes, Vendor Advisory" in refs
    # Whatever got into the column, only http(s) links reach the page, escaped.
    CVE.objects.filter(cve="CVE-2023-7024").update(
        references=[{"url": "javascript:alert(1)"}, {"url": "https://example.org/?a=1&b=<2>", "tags": ["<b>"]}]
    )
    html = client.get("/vulnerabilities/CVE-2023-7024/").content.decode()
    assert "javascript:" not in html
    assert '<a href="https://example.org/?a=1&amp;b=&lt;2&gt;" rel="noopener noreferrer">' in html
    assert "&lt;b&gt;" in html and "<b>" not in html


def test_api_returns_fleets_details_link(api: APIClient, matched: dict[str, Host]) -> None:
    base = "/api/latest/fleet"
    rows = api.get(f"{base}/vulnerabilities", {"per_page": 100}).json()["vulnerabilities"]
    assert rows and all(row["details_link"] == f"https://nvd.nist.gov/vuln/detail/{row['cve']}" for row in rows)
    detail = api.get(f"{base}/vulnerabilities/CVE-2023-32681").json()["vulnerability"]
    assert detail["details_link"] == "https://nvd.nist.gov/vuln/detail/CVE-2023-32681"
    macos = next(row for row in api.get(f"{base}/os_versions").json()["os_versions"] if row["platform"] == "darwin")
    assert macos["vulnerabilities"][0]["details_link"] == "https://nvd.nist.gov/vuln/detail/CVE-2023-42916"
    software = api.get(f"{base}/software/versions", {"vulnerable": "true", "query": "requests"}).json()["software"]
    assert software[0]["vulnerabilities"][0]["details_link"] == "https://nvd.nist.gov/vuln/detail/CVE-2023-32681"
