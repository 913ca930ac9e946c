"""The software pages and the host page's software section, on hosts matched against the feed fixtures."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import Team, User
from hosts.models import Host, Software
from vulnerabilities import feeds, matching
from vulnerabilities.tests.fixtures import FEEDS


@pytest.fixture
def matched(fleet: dict[str, Host]) -> dict[str, Host]:
    feeds.import_path(FEEDS)
    matching.run()
    return fleet


def html_of(user: User, path: str, **params: object) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(path, params)
    assert response.status_code == 200, response.content[:300]
    return response.content.decode()


def rows(html: str) -> dict[str, str]:
    """Each table row's first cell text → the row's HTML."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return {re.sub(r"<[^>]+>", "", row.split("</td>", 1)[0]).strip(): row for row in body.split("<tr>")[1:]}


def test_titles_show_counts_vulnerable_badge_and_link_to_hosts(admin: User, matched: dict[str, Host]) -> None:
    titles = rows(html_of(admin, "/software/"))
    assert set(titles) == {"Google Chrome.app", "requests", "py", "Mozilla Firefox (x64 en-US)", "openssl"}
    openssl = titles["openssl"]
    title_id = min(Software.objects.filter(name="openssl").values_list("pk", flat=True))
    # Two versions on three hosts; vulnerable on deb-old (the Ubuntu host's copy is not matched by DSA-5343-1).
    assert f'href="/software/versions/?title_id={title_id}">2<' in openssl
    assert f'href="/hosts/?software_title_id={title_id}">3<' in openssl and "Vulnerable" in openssl
    vulnerable = rows(html_of(admin, "/software/", vulnerable="on"))
    assert set(vulnerable) == {"Google Chrome.app", "requests", "py", "Mozilla Firefox (x64 en-US)", "openssl"}
    assert f'href="/hosts/?software_title_id={title_id}">1<' in vulnerable["openssl"]
    assert set(rows(html_of(admin, "/software/", query="fire"))) == {"Mozilla Firefox (x64 en-US)"}


def test_versions_list_their_open_cves_linked(admin: User, matched: dict[str, Host]) -> None:
    title_id = min(Software.objects.filter(name="openssl").values_list("pk", flat=True))
    html = html_of(admin, "/software/versions/", title_id=title_id, order_key="version", order_direction="asc")
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    u3, u4 = body.split("<tr>")[1:]
    assert "1.1.1n-0+deb11u3" in u3 and 'href="/vulnerabilities/CVE-2023-0286/"' in u3
    old = Software.objects.get(name="openssl", version="1.1.1n-0+deb11u3")
    assert f'href="/hosts/?software_id={old.pk}">2<' in u3
    assert "1.1.1n-0+deb11u4" in u4 and "/vulnerabilities/" not in u4


def test_team_users_see_only_their_teams_software(
    observer: User, outsider: User, other_team: Team, matched: dict[str, Host]
) -> None:
    assert set(rows(html_of(observer, "/software/"))) == {
        "Google Chrome.app", "requests", "py", "Mozilla Firefox (x64 en-US)",
    }  # fmt: skip
    versions = html_of(outsider, "/software/versions/")
    assert "Google Chrome" not in versions and "CVE-2023-7024" not in versions and "openssl" in versions
    refused = html_of(observer, "/software/", team_id=other_team.pk)
    assert "openssl" not in refused


def test_host_page_lists_software_with_linked_cves(observer: User, matched: dict[str, Host]) -> None:
    html = html_of(observer, f"/hosts/{matched['mac'].pk}/")
    section = html.split('id="software"', 1)[1].split("</section>", 1)[0]
    requests_row = section.split(">requests<", 1)[1].split("</tr>", 1)[0]
    assert '<a href="/vulnerabilities/CVE-2023-32681/">CVE-2023-32681</a>' in requests_row
    chrome_row = section.split(">Google Chrome.app<", 1)[1].split("</tr>", 1)[0]
    assert "CVE-2023-7024" in chrome_row and "CVE-2023-32681" not in chrome_row


def test_host_page_costs_the_same_queries_with_more_software(
    admin: User, matched: dict[str, Host], django_assert_max_num_queries
) -> None:
    from vulnerabilities.tests.fixtures import install, software

    client = Client()
    client.force_login(admin)
    mac = matched["mac"]
    client.get(f"/hosts/{mac.pk}/")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as before:
        client.get(f"/hosts/{mac.pk}/")
    install(mac, *[software(f"tool-{i}", "1.0", "apps") for i in range(40)])
    with django_assert_max_num_queries(len(before)):
        assert client.get(f"/hosts/{mac.pk}/").status_code == 200
