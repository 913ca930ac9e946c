"""The CVE list paged by keyset (Fleet's `after`, plus `after_id` for ties) in the API and by the page's
Next/Previous links: every sort key and direction, with ties, NULL scores and filters combined, gives
exactly the order of the whole list, checked against an order computed here in Python."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from accounts.models import Team, User
from conftest import APIClient
from hosts.models import Host
from vulnerabilities.models import CVE, HostVulnerability
from vulnerabilities.tests.fixtures import make_host

BASE = "/api/latest/fleet/vulnerabilities"
PUBLISHED = [None, datetime(2024, 1, 2, 3, 4, 5, 123456, UTC), datetime(2024, 3, 1, 0, 0, 0, 654321, UTC)]
DETECTED = [datetime(2025, 5, 1, 8, 0, 0, 250000, UTC), datetime(2025, 6, 1, 8, 0, 0, 500000, UTC)]
SEVERITY = {None: "", 5.0: "MEDIUM", 7.5: "HIGH", 9.8: "CRITICAL"}
# API order_key -> the row key it sorts by.
API_KEYS = {"cve": "cve", "hosts_count": "hosts_count", "host_count": "hosts_count", "created_at": "created_at",
            "cvss_score": "cvss_score", "epss_probability": "epss_probability",
            "cisa_known_exploit": "cisa_known_exploit", "cve_published": "cve_published"}  # fmt: skip


@pytest.fixture
def dataset(team: Team, other_team: Team) -> dict[str, Any]:
    """24 CVEs on five hosts (three of team A, two of team B), heavy with ties and NULL scores, plus
    an advisory id no feed has a CVE row for and one resolved detection that must not count."""
    hosts = [make_host(f"a{i}", "darwin", "macOS 14.1.1", team) for i in range(3)]
    hosts += [make_host(f"b{i}", "ubuntu", "Ubuntu 22.04.3 LTS", other_team) for i in range(2)]
    meta: dict[str, dict[str, Any]] = {}
    on: dict[str, list[tuple[Host, datetime]]] = {}
    for i in range(24):
        cve = f"CVE-2024-{1000 + i}" if i % 4 else f"CVE-2023-{2000 + i}"
        cvss = [None, 5.0, 7.5, 9.8, 5.0][i % 5]
        meta[cve] = {
            "cvss_score": cvss,
            "epss_probability": [None, 0.1, 0.5][i % 3],
            "cisa_known_exploit": i % 3 == 0,
            "published": PUBLISHED[i % 3],
        }
        CVE.objects.create(cve=cve, severity=SEVERITY[cvss], **meta[cve])
        # 1-3 hosts each, so counts tie; detection times tie across CVEs and differ between hosts.
        on[cve] = [(hosts[(i + k) % 5], DETECTED[(i + k) % 2] + timedelta(minutes=k)) for k in range(1 + i % 3)]
    meta["GHSA-aaaa-bbbb-cccc"] = {"cvss_score": None, "epss_probability": None, "cisa_known_exploit": False,
                                   "published": None}  # fmt: skip
    on["GHSA-aaaa-bbbb-cccc"] = [(hosts[0], DETECTED[0]), (hosts[3], DETECTED[1])]
    for cve, detections in on.items():
        for host, at in detections:
            HostVulnerability.objects.create(host=host, cve=cve, via="s1", first_detected_at=at)
    HostVulnerability.objects.create(
        host=hosts[4], cve="CVE-2024-1001", via="s2", first_detected_at=DETECTED[0], resolved_at=DETECTED[1]
    )
    return {"meta": meta, "on": on, "team_a": {h.pk for h in hosts[:3]}, "team_b": {h.pk for h in hosts[3:]}}


def expected(
    dataset: dict[str, Any], key: str, descending: bool, host_ids: set[int] | None = None, **only: Any
) -> list[str]:
    """The list as it must come out: NULLs first ascending, the CVE id breaking ties in the same direction."""
    rows = []
    for cve, detections in dataset["on"].items():
        seen = [(host, at) for host, at in detections if host_ids is None or host.pk in host_ids]
        info = dataset["meta"][cve]
        if not seen or any(not test(cve, info) for test in only.values()):
            continue
        values = {"cve": cve, "hosts_count": len(seen), "created_at": min(at for _, at in seen),
                  "cvss_score": info["cvss_score"], "epss_probability": info["epss_probability"],
                  "cisa_known_exploit": info["cisa_known_exploit"], "cve_published": info["published"]}  # fmt: skip
        rows.append(values)
    rows.sort(key=lambda r: (r[key] is not None, r[key] if r[key] is not None else 0, r["cve"]))
    ordered = [row["cve"] for row in rows]
    return ordered[::-1] if descending else ordered


def cursor(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


FILTERS: list[tuple[dict[str, Any], str | None, dict[str, Any]]] = [
    ({}, None, {}),
    ({"exploit": "true"}, None, {"exploit": lambda cve, info: info["cisa_known_exploit"]}),
    ({"query": "2024-10"}, None, {"query": lambda cve, info: "2024-10" in cve}),
    ({"query": "2024", "exploit": "true"}, "team_b",
     {"query": lambda cve, info: "2024" in cve, "exploit": lambda cve, info: info["cisa_known_exploit"]}),
    ({}, "team_a", {}),
]  # fmt: skip


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("order_key", list(API_KEYS))
def test_api_after_pages_match_the_whole_list_for_every_key(
    api: APIClient, dataset: dict[str, Any], team: Team, other_team: Team, order_key: str, descending: bool
) -> None:
    column = API_KEYS[order_key]
    for params, scope, only in FILTERS:
        params = {**params, "order_key": order_key, "order_direction": "desc" if descending else "asc"}
        host_ids = dataset[scope] if scope else None
        if scope:
            params["team_id"] = (team if scope == "team_a" else other_team).pk
        want = expected(dataset, column, descending, host_ids, **only)
        whole = api.get(BASE, {**params, "per_page": 1000}).json()
        assert [row["cve"] for row in whole["vulnerabilities"]] == want, params
        got: list[str] = []
        body = api.get(BASE, {**params, "per_page": 4}).json()
        while body["vulnerabilities"]:
            got += [row["cve"] for row in body["vulnerabilities"]]
            last = body["vulnerabilities"][-1]
            body = api.get(BASE, {**params, "per_page": 4, "after": cursor(last[column]), "after_id": last["cve"]})
            assert body.status_code == 200, body.content[:300]
            body = body.json()
            # A cursor page is Fleet's: no `meta`, but the same total count.
            assert "meta" not in body and body["count"] == len(want)
        assert got == want, params


def test_api_after_without_after_id_skips_ties_as_fleet_does(api: APIClient, dataset: dict[str, Any]) -> None:
    order = {"order_key": "hosts_count", "order_direction": "desc", "per_page": 100}
    rows = api.get(BASE, {**order, "after": "2"}).json()["vulnerabilities"]
    assert rows and {row["hosts_count"] for row in rows} == {1}
    # `after` supersedes `page`.
    assert api.get(BASE, {**order, "after": "2", "page": 3}).json()["vulnerabilities"] == rows
    # CVEs with no CVSS score come after the scored ones when descending, and first when ascending.
    desc = api.get(BASE, {"order_key": "cvss_score", "order_direction": "desc", "after": "5.0"}).json()
    assert desc["vulnerabilities"] and all(row["cvss_score"] is None for row in desc["vulnerabilities"])
    asc = api.get(BASE, {"order_key": "cvss_score", "after": "null"}).json()["vulnerabilities"]
    assert asc and all(row["cvss_score"] is not None for row in asc)


@pytest.mark.parametrize(
    "params",
    [
        {"order_key": "hosts_count", "after": "many"},
        {"order_key": "cvss_score", "after": "nan"},
        {"order_key": "cve_published", "after": "yesterday"},
        {"order_key": "cisa_known_exploit", "after": "maybe"},
        {"order_key": "hosts_count", "after": "null"},  # a count is never NULL
        {"order_key": "cve", "after": "CVE-1", "after_id": "x" * 65},
    ],
)
def test_after_that_is_no_value_of_the_order_key_is_a_bad_request(
    api: APIClient, dataset: dict[str, Any], params: dict[str, str]
) -> None:
    response = api.get(BASE, params)
    assert response.status_code == 400
    assert response.json()["errors"][0]["reason"].startswith("invalid after")


UI_KEYS = ["cve", "cvss_score", "epss_probability", "cisa_known_exploit", "cve_published", "hosts_count", "created_at"]


def _page(client: Client, url: str) -> tuple[list[str], str | None, str | None]:
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    text = response.content.decode()
    body = text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r'<a href="/vulnerabilities/([^"/]+)/">', body)
    nav = text.split('<nav class="pagination"', 1)[1].split("</nav>", 1)[0]
    next_link = re.search(r'<a href="([^"]+)"[^>]*rel="next"', nav)
    prev_link = re.search(r'<a href="([^"]+)"[^>]*rel="prev"', nav)
    return (
        rows,
        f"/vulnerabilities/{html.unescape(next_link.group(1))}" if next_link else None,
        f"/vulnerabilities/{html.unescape(prev_link.group(1))}" if prev_link else None,
    )


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("order_key", UI_KEYS)
def test_ui_next_and_previous_links_walk_the_list_by_cursor(
    admin: User, dataset: dict[str, Any], team: Team, order_key: str, descending: bool
) -> None:
    client = Client()
    client.force_login(admin)
    for params, scope, only in [
        ({}, None, {}),
        ({"min_cvss": "5", "severity": "MEDIUM"}, None, {"cvss": lambda cve, info: info["cvss_score"] == 5.0}),
        ({"exploit": "on", "query": "2024", "team_id": str(team.pk)}, "team_a",
         {"query": lambda cve, info: "2024" in cve, "exploit": lambda cve, info: info["cisa_known_exploit"]}),
    ]:  # fmt: skip
        want = expected(dataset, order_key, descending, dataset[scope] if scope else None, **only)
        query = "&".join(f"{k}={v}" for k, v in params.items())
        url: str | None = (
            f"/vulnerabilities/?{query}&per_page=3&order_key={order_key}"
            f"&order_direction={'desc' if descending else 'asc'}"
        )
        got: list[str] = []
        pages: list[list[str]] = []
        last_url = ""
        while url:
            rows, url, _ = _page(client, url)
            if url:
                assert "after=" in url and "after_id=" in url, url  # the cursor, not an OFFSET
                last_url = url
            got += rows
            pages.append(rows)
        assert got == want, (params, order_key)
        # Back from the last page by the Previous links, which carry `before` cursors.
        if len(pages) > 1:
            rows, _, url = _page(client, last_url)
            back = [rows]
            while url:
                assert "before=" in url, url
                rows, _, url = _page(client, url)
                back.append(rows)
            assert back[::-1] == pages, (params, order_key)


def test_sorting_and_filtering_drop_the_cursor(admin: User, dataset: dict[str, Any]) -> None:
    client = Client()
    client.force_login(admin)
    _, next_url, _ = _page(client, "/vulnerabilities/?per_page=3&order_key=cve&order_direction=asc")
    text = client.get(next_url).content.decode()
    head = text.split("<thead>", 1)[1].split("</thead>", 1)[0]
    assert "order_key=" in head and "after" not in head and "before" not in head
    # A cursor that is no value of the sort column is ignored: the first page, not an error.
    rows, _, _ = _page(client, "/vulnerabilities/?per_page=3&order_key=hosts_count&after=lots")
    assert rows == expected(dataset, "hosts_count", True)[:3]
