"""The vulnerability pages of the admin UI on real feed data: CVE list and chart, one CVE, OS versions."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Team, User
from hosts.models import Host
from vulnerabilities import feeds, matching
from vulnerabilities.models import CVE, HostVulnerability
from vulnerabilities.tests.fixtures import FEEDS, install, make_host, report_software, software

MAC_CVES = {"CVE-2023-7024", "CVE-2023-32681", "CVE-2022-42969", "CVE-2023-42916"}
DEBIAN_CVES = {"CVE-2022-4304", "CVE-2022-4450", "CVE-2023-0215", "CVE-2023-0286"}
ALL_CVES = MAC_CVES | DEBIAN_CVES | {"CVE-2023-4863"}


@pytest.fixture
def matched(fleet: dict[str, Host]) -> dict[str, Host]:
    feeds.import_path(FEEDS)
    matching.run()
    return fleet


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def listed(html: str) -> list[str]:
    """The CVE ids of the table's rows, in order."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<a href="/vulnerabilities/([^"/]+)/">', body)


def page(client: Client, path: str, **params: object) -> str:
    response = client.get(path, params)
    assert response.status_code == 200, response.content[:300]
    return response.content.decode()


def test_list_shows_exactly_the_open_cves_with_scores(admin: User, matched: dict[str, Host]) -> None:
    html = page(logged_in(admin), "/vulnerabilities/")
    assert set(listed(html)) == ALL_CVES and len(listed(html)) == len(ALL_CVES)
    row = html.split('href="/vulnerabilities/CVE-2023-7024/"', 1)[1].split("</tr>", 1)[0]
    assert ">8.8<" in row and "1.22 %" in row and "Known exploited" in row
    assert 'href="/hosts/?vulnerability=CVE-2023-7024">1<' in row


def test_filters_and_sorting_happen_in_the_query(admin: User, matched: dict[str, Host]) -> None:
    client = logged_in(admin)
    assert set(listed(page(client, "/vulnerabilities/", exploit="on"))) == {
        "CVE-2023-7024", "CVE-2023-4863", "CVE-2023-42916",
    }  # fmt: skip
    high = set(CVE.objects.filter(cve__in=ALL_CVES, cvss_score__gte=8).values_list("cve", flat=True))
    assert high and set(listed(page(client, "/vulnerabilities/", min_cvss="8"))) == high
    assert listed(page(client, "/vulnerabilities/", query="7024")) == ["CVE-2023-7024"]
    scores = dict(CVE.objects.values_list("cve", "cvss_score"))
    ordered = listed(page(client, "/vulnerabilities/", order_key="cvss_score", order_direction="desc"))
    values = [scores.get(cve) for cve in ordered]
    scored = [v for v in values if v is not None]
    assert scored == sorted(scored, reverse=True) and values[: len(scored)] == scored
    by_name = listed(page(client, "/vulnerabilities/", order_key="cve", order_direction="asc"))
    assert by_name == sorted(ALL_CVES)
    # A bad number is reported, not a server error.
    assert "min_cvss" in page(client, "/vulnerabilities/", min_cvss="eleven")


def test_team_users_see_only_their_teams_hosts(
    observer: User, outsider: User, other_team: Team, matched: dict[str, Host]
) -> None:
    client = logged_in(observer)
    assert set(listed(page(client, "/vulnerabilities/"))) == MAC_CVES | {"CVE-2023-4863"}
    # Another team's id is not among the choices: refused with the form's message, no rows.
    refused = page(client, "/vulnerabilities/", team_id=other_team.pk)
    assert listed(refused) == [] and "Select a valid choice" in refused and "deb-old" not in refused
    # The CVE itself is public, its hosts are not.
    html = page(client, "/vulnerabilities/CVE-2023-0286/")
    assert "deb-old" not in html and "0 hosts affected now" in html
    outsider_html = page(logged_in(outsider), "/vulnerabilities/CVE-2023-7024/")
    assert "mac-1" not in outsider_html and "0 hosts affected now" in outsider_html
    assert "mac-1" in page(client, "/vulnerabilities/CVE-2023-7024/")
    names = page(logged_in(outsider), "/os-versions/")
    assert "Debian GNU/Linux 11" in names and "macOS" not in names
    software_page = page(logged_in(outsider), "/software/")
    assert "openssl" in software_page and "Google Chrome" not in software_page


def test_observer_gets_no_write_controls(observer: User, matched: dict[str, Host]) -> None:
    client = logged_in(observer)
    for path in ("/vulnerabilities/", "/vulnerabilities/CVE-2023-7024/", "/os-versions/", "/software/",
                 "/software/versions/"):  # fmt: skip
        html = page(client, path)
        forms = re.findall(r'<form[^>]*method="post"[^>]*>', html)
        assert forms == ['<form method="post" action="/logout/" class="inline">'], (path, forms)
        assert 'type="checkbox" name="ids"' not in html


def upgrade_requests(mac: Host) -> None:
    """The Mac's next software report: requests upgraded to 2.31.0, the rest unchanged."""
    chrome = software("Google Chrome.app", "120.0.6099.71", "apps", "com.google.Chrome")
    report_software(
        mac, chrome, software("requests", "2.31.0", "python_packages"), software("py", "1.11.0", "python_packages")
    )


def test_cve_page_shows_details_references_and_host_history(admin: User, matched: dict[str, Host]) -> None:
    mac = matched["mac"]
    upgrade_requests(mac)
    matching.run()
    html = page(logged_in(admin), "/vulnerabilities/CVE-2023-32681/")
    assert "https://nvd.nist.gov/vuln/detail/CVE-2023-32681" in html and "PYSEC-2023-74" in html
    assert "Proxy-Authorization" in html  # from NVD's description
    assert "0 hosts affected now" in html
    row = html.split(f'href="/hosts/{mac.pk}/"', 1)[1].split("</tr>", 1)[0]
    assert "requests 2.28.1" in row and "<time" in row and "Open" not in row
    chrome = page(logged_in(admin), "/vulnerabilities/CVE-2023-7024/")
    assert "Known exploited" in chrome and ">8.8<" in chrome and "1 host affected now" in chrome
    assert logged_in(admin).get("/vulnerabilities/CVE-2099-0001/").status_code == 404


def test_os_versions_page_links_to_hosts(admin: User, matched: dict[str, Host]) -> None:
    html = page(logged_in(admin), "/os-versions/", order_key="name", order_direction="asc")
    row = html.split(">macOS 14.1.1<", 1)[1].split("</tr>", 1)[0]
    assert re.search(r'href="/hosts/\?os_version_id=\d+">1<', row) and '<td class="num">1</td>' in row
    debian = html.split(">Debian GNU/Linux 11<", 1)[1].split("</tr>", 1)[0]
    assert ">2<" in debian and '<td class="num">0</td>' in debian


def test_chart_counts_open_vulnerabilities_per_day_and_drops_a_resolved_one(
    admin: User, matched: dict[str, Host]
) -> None:
    total = HostVulnerability.objects.filter(resolved_at__isnull=True).count()
    HostVulnerability.objects.update(first_detected_at=timezone.now() - timedelta(days=3))
    mac = matched["mac"]
    # The Mac upgrades requests: CVE-2023-32681 is resolved by the next matching run.
    upgrade_requests(mac)
    matching.run()
    assert HostVulnerability.objects.filter(cve="CVE-2023-32681", resolved_at__isnull=False).count() == 1
    html = page(logged_in(admin), "/vulnerabilities/")
    svg = html.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert 'role="img"' in svg and "<title id=" in svg and "<desc id=" in svg
    bars = [(day, int(count)) for day, count in re.findall(r'data-date="([\d-]+)" data-open="(\d+)"', svg)]
    assert len(bars) == 30
    counts = [count for _, count in bars]
    assert counts[-1] == total - 1  # today, after the upgrade
    assert counts[-2] == counts[-3] == total  # the days before it
    assert counts[:-4] == [0] * 26  # before the first detection
    assert f"{total - 1} open now" in svg


def _add_vulnerable_hosts(team: Team, count: int) -> None:
    for i in range(count):
        host = make_host(f"mac-extra-{i}", "darwin", "macOS 14.1.1", team)
        install(host, software("Google Chrome.app", "120.0.6099.71", "apps", "com.google.Chrome"),
                software("requests", "2.28.1", "python_packages"), software(f"tool-{i}", "1.0", "apps"))  # fmt: skip
    matching.run(full=True)


PAGES = ["/vulnerabilities/", "/vulnerabilities/?exploit=on&min_cvss=5", "/vulnerabilities/CVE-2023-7024/",
         "/os-versions/", "/software/", "/software/?vulnerable=on", "/software/versions/"]  # fmt: skip


def test_pages_cost_the_same_queries_for_few_or_many_rows(
    admin: User, observer: User, team: Team, matched: dict[str, Host], django_assert_max_num_queries
) -> None:
    def costs(user: User) -> dict[str, int]:
        client = logged_in(user)
        out = {}
        for path in [*PAGES, f"/hosts/{matched['mac'].pk}/"]:
            with CaptureQueriesContext(connection) as queries:
                assert client.get(path).status_code == 200, path
            out[path] = len(queries)
        return out

    before = {"admin": costs(admin), "observer": costs(observer)}
    _add_vulnerable_hosts(team, 30)
    assert HostVulnerability.objects.filter(resolved_at__isnull=True).count() > 60
    for name, user in (("admin", admin), ("observer", observer)):
        client = logged_in(user)
        for path, cost in before[name].items():
            with django_assert_max_num_queries(cost):
                assert client.get(path).status_code == 200
    # A warm session: the session, the user, then the page's count, rows, chart and team roles.
    client = logged_in(admin)
    client.get("/vulnerabilities/")
    with django_assert_max_num_queries(10):
        client.get("/vulnerabilities/")


def test_links_to_the_hosts_list_filter_it(admin: User, observer: User, matched: dict[str, Host]) -> None:
    hosts = page(logged_in(admin), "/hosts/", vulnerability="CVE-2023-0286")
    assert "deb-old" in hosts and "deb-patched" not in hosts and "mac-1" not in hosts
    assert "deb-old" not in page(logged_in(observer), "/hosts/", vulnerability="CVE-2023-0286")
    html = page(logged_in(admin), "/os-versions/")
    os_id = re.search(r'os_version_id=(\d+)">macOS 14.1.1<', html).group(1)
    listed_hosts = page(logged_in(admin), "/hosts/", os_version_id=os_id)
    assert "mac-1" in listed_hosts and "ubuntu-1" not in listed_hosts


def _bars(html: str) -> list[int]:
    svg = html.split("<svg", 1)[1].split("</svg>", 1)[0]
    return [int(count) for count in re.findall(r'data-open="(\d+)"', svg)]


def test_chart_shows_the_same_filtered_set_as_the_table(
    admin: User, observer: User, team: Team, other_team: Team, matched: dict[str, Host]
) -> None:
    client = logged_in(admin)
    open_rows = HostVulnerability.objects.filter(resolved_at__isnull=True)
    kev = set(CVE.objects.filter(cisa_known_exploit=True).values_list("cve", flat=True))
    high = set(CVE.objects.filter(severity="HIGH").values_list("cve", flat=True))
    scored = set(CVE.objects.filter(cvss_score__gte=8).values_list("cve", flat=True))
    cases = [
        ({}, open_rows),
        ({"exploit": "on"}, open_rows.filter(cve__in=kev)),
        ({"query": "2023-0"}, open_rows.filter(cve__contains="2023-0")),
        ({"severity": "HIGH"}, open_rows.filter(cve__in=high)),
        ({"min_cvss": "8"}, open_rows.filter(cve__in=scored)),
        ({"team_id": other_team.pk}, open_rows.filter(host__team=other_team)),
        ({"team_id": team.pk, "exploit": "on"}, open_rows.filter(host__team=team, cve__in=kev)),
    ]
    for params, rows in cases:
        html = page(client, "/vulnerabilities/", **params)
        assert _bars(html)[-1] == rows.count(), params
        # The table beside it lists exactly the CVEs the chart counts.
        assert set(listed(html)) == set(rows.values_list("cve", flat=True)), params
    assert 0 < _bars(page(client, "/vulnerabilities/", exploit="on"))[-1] < _bars(page(client, "/vulnerabilities/"))[-1]
    # A filter change swaps only the results block (htmx): the chart is in it, redrawn for the filter.
    swapped = client.get(
        "/vulnerabilities/", {"team_id": other_team.pk}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results"
    )
    assert "<svg" in swapped.content.decode() and "<form" not in swapped.content.decode()
    assert _bars(swapped.content.decode())[-1] == open_rows.filter(host__team=other_team).count()
    # A team user's chart counts only their team's hosts, whatever the filters.
    mine = page(logged_in(observer), "/vulnerabilities/", exploit="on")
    assert _bars(mine)[-1] == open_rows.filter(host__team=team, cve__in=kev).count()
