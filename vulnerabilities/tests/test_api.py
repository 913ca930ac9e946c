"""REST: vulnerabilities, OS versions, CVEs in software responses and host filters, scoped to teams."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from accounts.models import Team, User
from conftest import APIClient
from hosts.models import Host, Software
from vulnerabilities import feeds, matching
from vulnerabilities.models import OSVersion
from vulnerabilities.tests.fixtures import FEEDS

BASE = "/api/latest/fleet"
MAC_CVES = {"CVE-2023-7024", "CVE-2023-32681", "CVE-2022-42969", "CVE-2023-42916"}
DEBIAN_CVES = {"CVE-2022-4304", "CVE-2022-4450", "CVE-2023-0215", "CVE-2023-0286"}


@pytest.fixture
def matched(fleet: dict[str, Host]) -> dict[str, Host]:
    feeds.import_path(FEEDS)
    matching.run()
    return fleet


def cves(response: object) -> set[str]:
    return {row["cve"] for row in response.json()["vulnerabilities"]}  # type: ignore[attr-defined]


def test_list_has_fleet_keys_counts_and_scores(api: APIClient, matched: dict[str, Host]) -> None:
    response = api.get(f"{BASE}/vulnerabilities", {"per_page": 100})
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert cves(response) == MAC_CVES | DEBIAN_CVES | {"CVE-2023-4863"}
    assert body["count"] == 9 and set(body["meta"]) == {"has_next_results", "has_previous_results"}
    chrome = next(row for row in body["vulnerabilities"] if row["cve"] == "CVE-2023-7024")
    assert chrome == {
        "cve": "CVE-2023-7024",
        "details_link": "https://nvd.nist.gov/vuln/detail/CVE-2023-7024",
        "cvss_score": 8.8,
        "epss_probability": pytest.approx(0.0122),
        "cisa_known_exploit": True,
        "cve_published": "2023-12-21T23:15:11.213000Z",
        "cve_description": chrome["cve_description"],
        "hosts_count": 1,
        "hosts_count_updated_at": None,
        "created_at": chrome["created_at"],
    }
    assert chrome["cve_description"].startswith("Heap buffer overflow in WebRTC")


def test_exploit_filter_sort_and_bad_order_key(api: APIClient, matched: dict[str, Host]) -> None:
    assert cves(api.get(f"{BASE}/vulnerabilities", {"exploit": "true"})) == {
        "CVE-2023-7024", "CVE-2023-4863", "CVE-2023-42916",
    }  # fmt: skip
    rows = api.get(f"{BASE}/vulnerabilities", {"order_key": "cvss_score", "order_direction": "desc"}).json()
    scores = [row["cvss_score"] for row in rows["vulnerabilities"] if row["cvss_score"] is not None]
    assert scores == sorted(scores, reverse=True) and scores[0] == 8.8
    response = api.get(f"{BASE}/vulnerabilities", {"order_key": "nope"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["reason"] == "invalid order key"


def test_lists_are_scoped_to_the_users_teams(
    api_client_as: Callable[[User | None], APIClient],
    observer: User,
    outsider: User,
    other_team: Team,
    matched: dict[str, Host],
) -> None:
    assert cves(api_client_as(observer).get(f"{BASE}/vulnerabilities")) == MAC_CVES | {"CVE-2023-4863"}
    assert cves(api_client_as(outsider).get(f"{BASE}/vulnerabilities")) == DEBIAN_CVES
    denied = api_client_as(observer).get(f"{BASE}/vulnerabilities", {"team_id": other_team.pk})
    assert denied.status_code == 404
    # The CVE is public data, but the outsider learns of no host or software of team A through it.
    body = api_client_as(outsider).get(f"{BASE}/vulnerabilities/CVE-2023-7024").json()
    assert body["vulnerability"]["hosts_count"] == 0 and body["software"] == [] and body["os_versions"] == []
    names = {row["name"] for row in api_client_as(outsider).get(f"{BASE}/os_versions").json()["os_versions"]}
    assert names == {"Debian GNU/Linux 11", "Ubuntu 22.04.3 LTS"}


def test_cve_detail_lists_software_and_os_versions(api: APIClient, matched: dict[str, Host]) -> None:
    body = api.get(f"{BASE}/vulnerabilities/CVE-2023-7024").json()
    assert body["vulnerability"]["hosts_count"] == 1 and body["os_versions"] == []
    chrome = Software.objects.get(name="Google Chrome.app")
    assert body["software"] == [
        {
            "id": chrome.pk, "name": "Google Chrome.app", "version": "120.0.6099.71", "source": "apps",
            "browser": "", "generated_cpe": "", "hosts_count": 1, "resolved_in_version": "120.0.6099.129",
        }
    ]  # fmt: skip
    macos = api.get(f"{BASE}/vulnerabilities/CVE-2023-42916").json()["os_versions"]
    assert [(row["name"], row["hosts_count"], row["resolved_in_version"]) for row in macos] == [
        ("macOS 14.1.1", 1, "14.1.2")
    ]


def test_cve_detail_errors(api: APIClient, matched: dict[str, Host]) -> None:
    bad = api.get(f"{BASE}/vulnerabilities/not-a-cve")
    assert bad.status_code == 400 and "CVE format" in bad.json()["errors"][0]["reason"]
    assert api.get(f"{BASE}/vulnerabilities/CVE-2099-99999").status_code == 404


def test_os_versions_list_and_detail(api: APIClient, matched: dict[str, Host]) -> None:
    body = api.get(f"{BASE}/os_versions").json()
    assert body["count"] == 4 and "counts_updated_at" in body
    macos = next(row for row in body["os_versions"] if row["name_only"] == "macOS")
    assert (macos["version"], macos["platform"], macos["hosts_count"]) == ("14.1.1", "darwin", 1)
    assert [v["cve"] for v in macos["vulnerabilities"]] == ["CVE-2023-42916"]
    debian = next(row for row in body["os_versions"] if row["platform"] == "debian")
    assert debian["hosts_count"] == 2 and debian["vulnerabilities"] == []
    detail = api.get(f"{BASE}/os_versions/{macos['os_version_id']}").json()["os_version"]
    assert detail["name"] == "macOS 14.1.1" and detail["generated_cpes"] == [
        "cpe:2.3:o:apple:macos:14.1.1:*:*:*:*:*:*:*"
    ]
    assert api.get(f"{BASE}/os_versions/999999").status_code == 404


def test_os_version_of_another_team_is_404(
    api_client_as: Callable[[User | None], APIClient], observer: User, matched: dict[str, Host]
) -> None:
    debian = OSVersion.objects.get(platform="debian")
    assert api_client_as(observer).get(f"{BASE}/os_versions/{debian.pk}").status_code == 404


def test_software_responses_carry_cves(api: APIClient, matched: dict[str, Host]) -> None:
    versions = api.get(f"{BASE}/software/versions", {"vulnerable": "true", "per_page": 50}).json()["software"]
    by_name = {(row["name"], row["version"]): row for row in versions}
    assert set(by_name) == {
        ("Google Chrome.app", "120.0.6099.71"), ("requests", "2.28.1"), ("py", "1.11.0"),
        ("Mozilla Firefox (x64 en-US)", "117.0"), ("openssl", "1.1.1n-0+deb11u3"),
    }  # fmt: skip
    requests = by_name[("requests", "2.28.1")]["vulnerabilities"]
    assert [(v["cve"], v["resolved_in_version"]) for v in requests] == [("CVE-2023-32681", "2.31.0")]
    titles = api.get(f"{BASE}/software/titles", {"query": "openssl"}).json()["software_titles"]
    assert {v["version"]: v["vulnerabilities"] for v in titles[0]["versions"]} == {
        "1.1.1n-0+deb11u3": sorted(DEBIAN_CVES), "1.1.1n-0+deb11u4": None,
    }  # fmt: skip


def test_host_software_shows_only_the_hosts_own_cves(api: APIClient, matched: dict[str, Host]) -> None:
    """The same openssl build is vulnerable on Debian 11 but not matched on Ubuntu."""
    for host, expected in ((matched["old"], sorted(DEBIAN_CVES)), (matched["ubuntu"], None)):
        rows = api.get(f"{BASE}/hosts/{host.pk}/software").json()["software"]
        assert rows[0]["installed_versions"][0]["vulnerabilities"] == expected
    only = api.get(f"{BASE}/hosts/{matched['mac'].pk}/software", {"vulnerable": "true"}).json()["software"]
    assert {row["name"] for row in only} == {"Google Chrome.app", "requests", "py"}


def test_host_filters_by_cve_and_os_version(api: APIClient, matched: dict[str, Host]) -> None:
    hosts = api.get(f"{BASE}/hosts", {"vulnerability": "CVE-2023-0286"}).json()["hosts"]
    assert [h["hostname"] for h in hosts] == ["deb-old"]
    debian = OSVersion.objects.get(platform="debian")
    hosts = api.get(f"{BASE}/hosts", {"os_version_id": debian.pk, "order_key": "hostname"}).json()["hosts"]
    assert [h["hostname"] for h in hosts] == ["deb-old", "deb-patched"]
    assert api.get(f"{BASE}/hosts/count", {"vulnerability": "CVE-2023-7024"}).json()["count"] == 1


def test_anonymous_is_401(db: None) -> None:
    for path in ("vulnerabilities", "vulnerabilities/CVE-2023-7024", "os_versions", "os_versions/1"):
        assert Client().get(f"{BASE}/{path}").status_code == 401, path


def test_software_filters_by_exploit_and_cvss(api: APIClient, matched: dict[str, Host]) -> None:
    def names(**params: str) -> set[str]:
        rows = api.get(f"{BASE}/software/versions", {"per_page": 50, **params}).json()["software"]
        return {row["name"] for row in rows}

    assert names(exploit="true") == {"Google Chrome.app", "Mozilla Firefox (x64 en-US)"}
    # requests (6.1) and openssl (7.4 for CVE-2023-0286) are under 8; Chrome and Firefox are 8.8.
    assert names(max_cvss_score="7.5") == {"requests", "openssl"}
    assert names(min_cvss_score="8") == {"Google Chrome.app", "Mozilla Firefox (x64 en-US)"}
    titles = api.get(f"{BASE}/software/titles", {"exploit": "true"}).json()
    assert titles["count"] == 2
    assert api.get(f"{BASE}/software/versions", {"min_cvss_score": "high"}).status_code == 400


def test_host_health_lists_vulnerable_software(api: APIClient, matched: dict[str, Host]) -> None:
    health = api.get(f"{BASE}/hosts/{matched['old'].pk}/health").json()["health"]
    openssl = Software.objects.get(name="openssl", version="1.1.1n-0+deb11u3")
    assert health["vulnerable_software"] == [{"id": openssl.pk, "name": "openssl", "version": "1.1.1n-0+deb11u3"}]
    assert api.get(f"{BASE}/hosts/{matched['patched'].pk}/health").json()["health"]["vulnerable_software"] == []


def test_host_details_inline_software_has_cve_objects(api: APIClient, matched: dict[str, Host]) -> None:
    software_rows = api.get(f"{BASE}/hosts/{matched['mac'].pk}").json()["host"]["software"]
    by_name = {row["name"]: [v["cve"] for v in row["vulnerabilities"]] for row in software_rows}
    assert by_name == {"Google Chrome.app": ["CVE-2023-7024"], "py": ["CVE-2022-42969"], "requests": ["CVE-2023-32681"]}
    chrome = next(row for row in software_rows if row["name"] == "Google Chrome.app")["vulnerabilities"][0]
    assert chrome["resolved_in_version"] == "120.0.6099.129" and chrome["cisa_known_exploit"] is True


def test_lists_cost_a_constant_number_of_queries(
    api: APIClient, matched: dict[str, Host], django_assert_max_num_queries
) -> None:
    """Scores, OS vulnerabilities and counts are fetched per page, not per row."""
    with django_assert_max_num_queries(6):
        assert api.get(f"{BASE}/vulnerabilities", {"per_page": 100}).status_code == 200
    with django_assert_max_num_queries(6):
        assert api.get(f"{BASE}/os_versions").status_code == 200


def test_fleet_desktop_software_shows_vulnerable_titles(matched: dict[str, Host]) -> None:
    """My Device (Fleet Desktop) lists the host's own CVEs and filters by them."""
    from django.utils import timezone

    from fleetsite.lib.tokens import digest

    token = "7e57c0de-0000-4000-8000-000000000001"
    Host.objects.filter(pk=matched["mac"].pk).update(
        device_token_digest=digest(token), device_token_updated_at=timezone.now()
    )
    body = Client().get(f"{BASE}/device/{token}/software", {"vulnerable": "true"}).json()
    assert {row["name"]: row["installed_versions"][0]["vulnerabilities"] for row in body["software"]} == {
        "Google Chrome.app": ["CVE-2023-7024"], "py": ["CVE-2022-42969"], "requests": ["CVE-2023-32681"],
    }  # fmt: skip
