"""Hosts list at scale: server time per page of the REST list and of the UI page.

Run against a server seeded with `manage.py seed_hosts 1000000 --teams 4 --policies 4`. Each case
alternates with the empty view `ROUNDS` times over one keep-alive connection (a real browser or
script keeps its connection); the median of the per-round ratios is the figure, the spread beside
it. Cases: 100 hosts per page of the REST list unfiltered and with each filter (status, label,
team, policy response, software, search), sorted by each sort key, page 500 by OFFSET and by
`after=`; the full HTML page; the results block htmx fetches when a filter changes; the counts;
host_summary.
"""

from __future__ import annotations

import http.client
import json
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

ROUNDS = 15


# Every sort key of HostFilterSet.ORDER_KEYS (this client does not load Django to read them).
ORDER_KEYS = (
    "id", "hostname", "computer_name", "display_name", "seen_time", "created_at", "updated_at", "platform",
    "os_version", "osquery_version", "primary_ip", "memory", "uptime", "hardware_serial",
    "gigs_disk_space_available", "team_name", "status",
)  # fmt: skip

# Issue 13's target for every case at a million hosts: at most 10x the empty view.
TARGET = 10.0

# What htmx sends when a filter, a sort or a page link changes: only the results block comes back.
HTMX = {"HX-Request": "true", "HX-Target": "results"}


class KeepAlive:
    """One persistent HTTP connection, as a browser or a script keeps it."""

    def __init__(self, server_url: str, token: str) -> None:
        parts = urlsplit(server_url)
        self.connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=60)
        self.token = token

    def get(self, path: str, headers: dict[str, str] | None = None) -> bytes:
        self.connection.request("GET", path, headers={"Authorization": f"Bearer {self.token}", **(headers or {})})
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}")
        return body

    def timed(self, path: str, headers: dict[str, str] | None = None) -> float:
        started = time.perf_counter()
        self.get(path, headers)
        return (time.perf_counter() - started) * 1000


@dataclass
class Case:
    name: str
    ms: float  # median wall ms of the case
    empty_ms: float  # median wall ms of the empty view, timed alternately with it
    ratio: float  # median of the per-round ratios
    spread: tuple[float, float]


def _first_id(client: KeepAlive, path: str, key: str, name: str = "") -> int | None:
    """The id of the first object of a list (the one called `name` if given), read outside the timing."""
    rows = json.loads(client.get(path))[key]
    named = [row for row in rows if row.get("name") == name] if name else rows
    return named[0]["id"] if named else None


def _id_at(client: KeepAlive, position: int) -> int | None:
    """The id of the host at `position` in id order (read once, outside the timing); None past the end."""
    hosts = json.loads(client.get(f"/api/latest/fleet/hosts?per_page=1&page={position}&order_key=id"))["hosts"]
    return hosts[0]["id"] if hosts else None


def cases(client: KeepAlive) -> list[tuple]:
    """(name, path, params[, headers]) of every case: each filter, each sort, deep pages, counts."""
    label = _first_id(client, "/api/latest/fleet/labels", "labels", "macOS")
    team = _first_id(client, "/api/latest/fleet/teams", "teams")
    policy = _first_id(client, "/api/latest/fleet/global/policies", "policies")
    software_id = _first_id(client, "/api/latest/fleet/software/versions?per_page=1", "software")
    page_500_after = _id_at(client, 500 * 100 - 1)
    api, page = "/api/latest/fleet/hosts", "/hosts/"
    filters = [("status=online", {"status": "online"}), ("status=missing", {"status": "missing"})]
    filters += [("label", {"label_id": label})] if label else []
    filters += [("team", {"team_id": team})] if team else []
    filters += [("policy failing", {"policy_id": policy, "policy_response": "failing"})] if policy else []
    filters += [("software", {"software_id": software_id})] if software_id else []
    filters += [("query=dev-0001", {"query": "dev-0001"}), ("query=none-such", {"query": "none-such"})]
    out: list[tuple] = [("hosts API, 100/page", api, {"per_page": 100})]
    out += [(f"hosts API, {name}", api, {"per_page": 100, **params}) for name, params in filters]
    out += [("hosts API, page 500", api, {"per_page": 100, "page": 500})]
    # A page nobody reached: each round jumps to a page far from any page read before (OFFSET).
    out += [("hosts API, page 300-580, cold", api, lambda n: {"per_page": 100, "page": 300 + 20 * n})]
    if page_500_after is not None:  # a seed smaller than 50,000 hosts has no page 500
        out += [("hosts API, page 500 by after=", api, {"per_page": 100, "after": page_500_after})]
    out += [
        ("hosts API, label, page 500", api, {"per_page": 100, "page": 500, "label_id": label}),
        ("hosts API, sorted by hostname, page 500", api, {"per_page": 100, "page": 500, "order_key": "hostname"}),
    ]
    for key in ORDER_KEYS:
        sort = {"per_page": 100, "order_key": key, "order_direction": "desc"}
        out += [(f"hosts API, sorted by {key} desc", api, sort)]
    out += [("hosts page, 100/page", page, {"per_page": 100})]
    out += [(f"hosts page, {name}", page, {"per_page": 100, **params}) for name, params in filters[:3]]
    out += [("hosts page, page 500", page, {"per_page": 100, "page": 500})]
    out += [(f"hosts results (htmx), {name}", page, {"per_page": 100, **params}, HTMX) for name, params in filters]
    out += [
        ("hosts results (htmx), sorted by team_name", page, {"per_page": 100, "order_key": "team_name"}, HTMX),
        ("hosts count (htmx)", "/hosts/count/", {"per_page": 100}, HTMX),
        ("hosts count (htmx), label", "/hosts/count/", {"per_page": 100, "label_id": label}, HTMX),
        ("hosts count (htmx), status=online", "/hosts/count/", {"per_page": 100, "status": "online"}, HTMX),
        ("hosts/count API, policy failing", "/api/latest/fleet/hosts/count", filters[4][1] if policy else {}),
        ("host_summary", "/api/latest/fleet/host_summary", {}),
    ]
    return out


def run(server_url: str, token: str, rounds: int = ROUNDS, only: str = "") -> Iterator[Case]:
    """Every case (or those whose name contains `only`), each round beside the empty view on one connection.

    Cases are yielded as they finish: at a million hosts the whole list takes minutes.
    """
    client = KeepAlive(server_url.rstrip("/"), token)
    for name, path, params, *headers in cases(client):
        if only and only not in name:
            continue
        # A params callable gives each round its own query (and the warm-up read round -1's).
        query = params if callable(params) else lambda _, params=params: params
        target = f"{path}?{urlencode(query(-1))}"
        extra = headers[0] if headers else None
        client.get(target, extra)  # warm caches
        empties, times = [], []
        for _ in range(rounds):
            empties.append(client.timed("/bench/empty"))
            times.append(client.timed(f"{path}?{urlencode(query(len(times)))}", extra))
        ratios = [case / empty for case, empty in zip(times, empties, strict=True)]
        yield Case(name, statistics.median(times), statistics.median(empties), statistics.median(ratios),
                   (min(ratios), max(ratios)))  # fmt: skip


if __name__ == "__main__":
    import sys

    # python -m bench.hosts_list URL TOKEN [ROUNDS [NAME-FRAGMENT]]
    rounds, only = int(sys.argv[3]) if len(sys.argv) > 3 else ROUNDS, sys.argv[4] if len(sys.argv) > 4 else ""
    for case in run(sys.argv[1], sys.argv[2], rounds, only):
        print(f"{case.name:38} {case.ms:8.1f} ms  x{case.ratio:5.1f} empty ({case.spread[0]:.1f}-{case.spread[1]:.1f})")
