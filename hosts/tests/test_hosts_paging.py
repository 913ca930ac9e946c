"""Deep pages by `page`/`per_page` seek from where the page before ended; counts are shared for a few seconds."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Team, User
from conftest import APIClient
from hosts import paging
from hosts.models import Host
from hosts.tests.test_ui_pages import logged_in

HTMX = {"HX-Request": "true", "HX-Target": "results"}

BASE = "/api/latest/fleet"


@pytest.fixture
def fleet(team: Team, other_team: Team) -> list[Host]:
    """Eleven hosts with repeated sort values (ties are broken by id) and a NULL team for some."""
    now = timezone.now()
    teams = [None, team, other_team]
    return [
        Host.objects.create(
            osquery_host_id=f"p{i}",
            hostname=f"host-{i % 4}",
            memory=(i % 3) * 1024,
            seen_time=now - timedelta(minutes=i % 5),
            team=teams[i % 3],
        )
        for i in range(11)
    ]


def _ids(api: APIClient, path: str, **params: Any) -> tuple[list[int], bool]:
    body = api.get(path, params).json()
    return [host["id"] for host in body["hosts"]], body["meta"]["has_next_results"]


def _walk(api: APIClient, path: str, **params: Any) -> list[list[int]]:
    pages, number = [], 0
    while True:
        ids, more = _ids(api, path, page=number, per_page=3, **params)
        pages.append(ids)
        if not more:
            return pages
        number += 1


@pytest.mark.parametrize(
    "sort", [{}, {"order_key": "hostname"}, {"order_key": "memory", "order_direction": "desc"},
             {"order_key": "seen_time"}, {"order_key": "team_name"},
             {"order_key": "team_name", "order_direction": "desc"}],
)  # fmt: skip
def test_pages_walked_or_asked_again_are_the_offset_pages(
    settings: Any, api: APIClient, admin: User, fleet: list[Host], sort: dict[str, str]
) -> None:
    settings.FLEETSITE_HOST_COUNTS_SECONDS = 0  # every page plain SQL: OFFSET, one sorted query
    by_offset = _walk(api, f"{BASE}/hosts", **sort)
    assert sorted(sum(by_offset, [])) == sorted(host.pk for host in fleet)
    settings.FLEETSITE_HOST_COUNTS_SECONDS = 60
    assert _walk(api, f"{BASE}/hosts", **sort) == by_offset
    assert _walk(api, f"{BASE}/hosts", **sort) == by_offset  # every page start now remembered
    assert _ids(api, f"{BASE}/hosts", page=2, per_page=3, **sort)[0] == by_offset[2]
    # The UI's pages are the same rows, walked or asked again.
    browser = logged_in(admin)
    for _ in range(2):
        assert [_ui_page(browser, number, sort) for number in range(len(by_offset))] == by_offset


def _ui_page(browser: Client, number: int, sort: dict[str, str]) -> list[int]:
    html = browser.get("/hosts/", {"page": number, "per_page": 3, **sort}, headers=HTMX).content.decode()
    return [int(found) for found in re.findall(r'<a class="cell-name[^"]*" href="/hosts/(\d+)/"', html)]


def test_a_page_after_the_one_before_seeks_instead_of_skipping(
    settings: Any, api: APIClient, fleet: list[Host]
) -> None:
    settings.FLEETSITE_HOST_COUNTS_SECONDS = 60
    first, _ = _ids(api, f"{BASE}/hosts", page=2, per_page=3, order_key="hostname")  # by OFFSET, once
    with CaptureQueriesContext(connection) as again:
        assert _ids(api, f"{BASE}/hosts", page=2, per_page=3, order_key="hostname")[0] == first
        following, _ = _ids(api, f"{BASE}/hosts", page=3, per_page=3, order_key="hostname")
    sqls = [query["sql"] for query in again.captured_queries]
    host_reads = [sql for sql in sqls if "hosts_host" in sql and "LIMIT" in sql.upper() and "authtoken" not in sql]
    assert len(host_reads) == 2 and not [sql for sql in host_reads if "OFFSET" in sql.upper()]
    settings.FLEETSITE_HOST_COUNTS_SECONDS = 0
    assert _ids(api, f"{BASE}/hosts", page=3, per_page=3, order_key="hostname")[0] == following
    # Another filter, sort or page size is another list with page starts of its own.
    assert _ids(api, f"{BASE}/hosts", page=2, per_page=2, order_key="hostname")[0] != first


def test_counts_are_shared_until_hosts_come_or_go(
    settings: Any, api: APIClient, admin: User, fleet: list[Host], django_assert_max_num_queries: Any
) -> None:
    settings.FLEETSITE_HOST_COUNTS_SECONDS = 60
    assert api.get(f"{BASE}/hosts/count").json() == {"count": 11}
    assert api.get(f"{BASE}/hosts/count", {"team_id": fleet[1].team_id}).json() == {"count": 4}
    Host.objects.create(osquery_host_id="behind-its-back")
    with django_assert_max_num_queries(3) as shared:  # the token and its user; no host is counted
        assert api.get(f"{BASE}/hosts/count", {"order_key": "hostname"}).json() == {"count": 11}
    assert not [query for query in shared.captured_queries if "hosts_host" in query["sql"]]
    browser = logged_in(admin)
    assert "of 12," in browser.get("/hosts/count/").content.decode()  # the page's count is its own entry
    assert api.post(f"{BASE}/hosts/delete", {"ids": [fleet[0].pk]}).status_code == 200
    assert api.get(f"{BASE}/hosts/count").json() == {"count": 11}  # 12 hosts, one deleted
    assert "of 11," in browser.get("/hosts/count/").content.decode()


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_a_team_users_pages_by_offset_are_their_teams_hosts_in_id_order(
    settings: Any,
    api_client_as: Any,
    observer: User,
    team: Team,
    fleet: list[Host],
    direction: str,
) -> None:
    """Pages read by OFFSET in id order (through the narrow id index on MySQL) hold only the reader's team."""
    expected = sorted((host.pk for host in fleet if host.team_id == team.pk), reverse=direction == "desc")
    client = api_client_as(observer)
    for seconds in (0, 60):  # plain OFFSET every page; then a page nobody reached, by OFFSET once
        settings.FLEETSITE_HOST_COUNTS_SECONDS = seconds
        pages = [_ids(client, f"{BASE}/hosts", page=number, per_page=2, order_direction=direction) for number in (1, 0)]
        assert pages == [(expected[2:4], len(expected) > 4), (expected[:2], True)]


def test_offset_reads_name_the_narrow_id_index_only_where_it_holds_every_filtered_column(
    team: Team, fleet: list[Host]
) -> None:
    """MySQL walks the clustered primary key (whole rows) for ORDER BY id unless told; other databases are not told."""
    hosts = Host.objects.order_by("id", "id")
    covered = [
        hosts,
        Host.objects.order_by("-id", "-id"),
        hosts.filter(team_id__in=[team.pk]),
        hosts.filter(team__isnull=True),
        hosts.exclude(team_id=team.pk),
    ]
    uncovered = [
        hosts.filter(hostname="host-1"),
        hosts.filter(labelmembership__label_id=1),
        Host.objects.order_by("hostname", "id"),
    ]
    hinted = connection.vendor == "mysql"
    for queryset in covered + uncovered:
        with CaptureQueriesContext(connection) as read:
            rows = paging.offset_rows(queryset, ("id",), 1, 4)
        assert rows == list(queryset.values_list("id")[1:4])
        assert ("FORCE INDEX" in read.captured_queries[0]["sql"]) == (hinted and queryset in covered)
    assert paging.offset_rows(hosts.filter(team_id__in=[]), ("id",), 0, 3) == []  # a user on no team
