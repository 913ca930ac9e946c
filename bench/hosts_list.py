"""Hosts list at scale: server time per page of the REST list and of the UI page.

Run against a server seeded with `manage.py seed_hosts 100000`. Each case alternates with the
empty view `ROUNDS` times over one keep-alive connection (a real browser or script keeps its
connection); the median of the per-round ratios is the figure, the spread beside it. Cases:
100 hosts per page, unfiltered, filtered by status, filtered by a label, a deep page and a sort
for the REST list; the full HTML page; the results block htmx fetches when a filter changes;
the page's separate count; host_summary.
"""

from __future__ import annotations

import http.client
import json
import statistics
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

ROUNDS = 15


# The cases the hosts-list issue sets its target for (<= 10x the empty view at 100,000 hosts):
# 100 per page, unfiltered and filtered by status and by label, for the API and the page. The
# others (a deep page, the separate count, host_summary) are printed for information.
TARGETED = {
    "hosts API, 100/page", "hosts API, status=online", "hosts API, label", "hosts page, 100/page",
    "hosts page, status=online", "hosts page, label", "hosts results (htmx), status=online",
    "hosts results (htmx), label", "hosts API, page 500 by after=",
}  # fmt: skip

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


def _label_id(client: KeepAlive) -> int:
    labels = json.loads(client.get("/api/latest/fleet/labels"))["labels"]
    by_name = {label["name"]: label["id"] for label in labels}
    return by_name.get("macOS") or by_name.get("All Hosts") or labels[0]["id"]


def _id_at(client: KeepAlive, position: int) -> int | None:
    """The id of the host at `position` in id order (read once, outside the timing); None past the end."""
    hosts = json.loads(client.get(f"/api/latest/fleet/hosts?per_page=1&page={position}&order_key=id"))["hosts"]
    return hosts[0]["id"] if hosts else None


def run(server_url: str, token: str) -> list[Case]:
    """Every case, each round beside the empty view on the same connection."""
    client = KeepAlive(server_url.rstrip("/"), token)
    label = _label_id(client)
    page_500_after = _id_at(client, 500 * 100 - 1)
    cases = [
        ("hosts API, 100/page", "/api/latest/fleet/hosts", {"per_page": 100}),
        ("hosts API, status=online", "/api/latest/fleet/hosts", {"per_page": 100, "status": "online"}),
        ("hosts API, label", "/api/latest/fleet/hosts", {"per_page": 100, "label_id": label}),
        ("hosts API, page 500", "/api/latest/fleet/hosts", {"per_page": 100, "page": 500}),
        ("hosts API, sorted by hostname", "/api/latest/fleet/hosts", {"per_page": 100, "order_key": "hostname"}),
        ("hosts page, 100/page", "/hosts/", {"per_page": 100}),
        ("hosts page, status=online", "/hosts/", {"per_page": 100, "status": "online"}),
        ("hosts page, label", "/hosts/", {"per_page": 100, "label_id": label}),
        ("hosts results (htmx), status=online", "/hosts/", {"per_page": 100, "status": "online"}, HTMX),
        ("hosts results (htmx), label", "/hosts/", {"per_page": 100, "label_id": label}, HTMX),
        ("hosts count (htmx)", "/hosts/count/", {"per_page": 100}, HTMX),
        ("host_summary", "/api/latest/fleet/host_summary", {}),
    ]
    if page_500_after is not None:  # a seed smaller than 50,000 hosts has no page 500
        keyset = {"per_page": 100, "after": page_500_after}
        cases.insert(4, ("hosts API, page 500 by after=", "/api/latest/fleet/hosts", keyset))
    results = []
    for name, path, params, *headers in cases:
        target = f"{path}?{urlencode(params)}"
        extra = headers[0] if headers else None
        client.get(target, extra)  # warm caches
        empties, times = [], []
        for _ in range(ROUNDS):
            empties.append(client.timed("/bench/empty"))
            times.append(client.timed(target, extra))
        ratios = [case / empty for case, empty in zip(times, empties, strict=True)]
        results.append(
            Case(name, statistics.median(times), statistics.median(empties), statistics.median(ratios),
                 (min(ratios), max(ratios)))
        )  # fmt: skip
    return results


if __name__ == "__main__":
    import sys

    for case in run(sys.argv[1], sys.argv[2]):
        print(f"{case.name:38} {case.ms:8.1f} ms  x{case.ratio:5.1f} empty ({case.spread[0]:.1f}-{case.spread[1]:.1f})")
