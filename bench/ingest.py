"""Detail writes in this process (issue 13 item 3): `python -m bench.ingest`.

Posts agentsim's distributed/write answers through Django's test client into a fresh database
and prints, per case, the median CPU time (time.process_time) and SQL statements per request:

- a typical host's full detail write on first enrolment, and on a refetch where nothing changed,
  beside an empty view in the same process (target: <= 5x);
- 30,000 packages in one write, all new to the catalogue, then already known (target: < 1 s).

`--profile CASE` prints the cProfile of that case's requests (cumulative time, top entries).
No server process is involved, so the figures are the code's own cost, not the HTTP stack's.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TARGET_RATIO = 5.0
TARGET_PACKAGES_S = 1.0
CASES = ("empty view", "detail write (first)", "detail write (refetch, unchanged)", "30,000 new packages",
         "30,000 known packages", "30,000 packages (refetch, unchanged)")  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", "sqlite://"))
    parser.add_argument("--hosts", type=int, default=30, help="hosts for the typical detail writes")
    parser.add_argument("--packages", type=int, default=30_000)
    parser.add_argument("--repeats", type=int, default=3, help="hosts per 30,000-package case")
    parser.add_argument("--profile", choices=CASES, help="print where this case's time goes")
    parser.add_argument("--profile-lines", type=int, default=35)
    parser.add_argument("--profile-sort", default="cumulative", help="a pstats key: cumulative, tottime, ...")
    return parser.parse_args()


def setup_django(database_url: str, data_dir: Path) -> None:
    """A fresh database (a SQLite file, or a recreated MariaDB/PostgreSQL database) with the bench's empty view."""
    from fleetsite.liveserver import isolated_database_url

    if database_url.startswith("postgres"):
        url = _recreated_postgres(database_url)
    else:
        url = isolated_database_url(database_url, data_dir, suffix="ingestbench")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        FLEETSITE_DATA_DIR=str(data_dir),
        DATABASE_URL=url,
        ALLOWED_HOSTS="testserver",
        # Nothing writes behind the measured requests' backs; the bench flushes between cases.
        FLEETSITE_SEEN_FLUSH_INTERVAL="0",
        FLEETSITE_REPORT_FLUSH_INTERVAL="0",
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _recreated_postgres(base_url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(base_url)
    name = f"{parts.path.lstrip('/') or 'fleetsite'}_ingestbench"
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@dataclass
class Case:
    """CPU seconds and statement counts of each request of one case."""

    name: str
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)

    @property
    def cpu_ms(self) -> float:
        return statistics.median(self.cpu) * 1000 if self.cpu else 0.0

    @property
    def spread_ms(self) -> tuple[float, float]:
        return (min(self.cpu) * 1000, max(self.cpu) * 1000) if self.cpu else (0.0, 0.0)

    @property
    def wall_ms(self) -> float:
        return statistics.median(self.wall) * 1000 if self.wall else 0.0

    @property
    def median_statements(self) -> float:
        return statistics.median(self.statements) if self.statements else 0.0


class Bench:
    """The test client, the statement counter and the profiler, shared by every case."""

    def __init__(self, profile: str | None) -> None:
        from django.test import Client

        self.client = Client()
        self.cases = {name: Case(name) for name in CASES}
        self.profile_case = profile
        self.profiler = cProfile.Profile(time.process_time)  # CPU, as the figures: not the wait for the database
        self._statements = 0

    def _count(self, execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
        self._statements += 1
        return execute(sql, params, many, context)

    @contextmanager
    def measured(self, name: str) -> Iterator[None]:
        """Count this block's CPU time and statements under `name` (statements by an execute wrapper:
        it counts what CaptureQueriesContext would, without its per-statement bookkeeping in the time)."""
        from django.db import connection

        self._statements = 0
        profiling = name == self.profile_case
        with connection.execute_wrapper(self._count):
            if profiling:
                self.profiler.enable()
            started, wall_started = time.process_time(), time.perf_counter()
            yield
            spent, wall = time.process_time() - started, time.perf_counter() - wall_started
            if profiling:
                self.profiler.disable()
        self.cases[name].cpu.append(spent)
        self.cases[name].wall.append(wall)
        self.cases[name].statements.append(self._statements)

    def post(self, path: str, body: dict[str, Any] | bytes) -> dict[str, Any]:
        """POST a body (encode it first to keep the encoding out of a measured block)."""
        import orjson

        data = body if isinstance(body, bytes) else orjson.dumps(body)
        response = self.client.generic("POST", path, data, content_type="application/json")
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.content[:300]!r}")
        return orjson.loads(response.content)


def _flush_buffers() -> None:
    from hosts import seen

    seen.buffer.flush()


def _refetch(host_uuid: str) -> None:
    from hosts.models import Host

    Host.objects.filter(uuid=host_uuid).update(refetch_requested=True)


def typical_hosts(bench: Bench, secret: str, count: int) -> None:
    """Enroll `count` agentsim hosts of mixed platforms; time each first detail write, then a refetch."""
    import orjson

    from agentsim.answers import build_distributed_write
    from agentsim.catalogue import HostData
    from agentsim.identity import make_identities

    for _ in range(50):  # warm-up: first requests import and compile what later ones reuse
        bench.client.get("/bench/empty")
    now = time.time()
    datas = [HostData(ident, now) for ident in make_identities(count, "mixed", seed=11)]
    for data in datas:
        body = {"enroll_secret": secret, "host_identifier": data.ident.hardware_uuid,
                "platform_type": data.ident.platform_type, "host_details": data.host_details()}  # fmt: skip
        node_key = bench.post("/api/v1/osquery/enroll", body)["node_key"]
        for case in ("detail write (first)", "detail write (refetch, unchanged)"):
            _refetch(data.ident.hardware_uuid)
            read = bench.post("/api/v1/osquery/distributed/read", {"node_key": node_key})
            write = build_distributed_write(node_key, read, data)
            assert write is not None
            encoded = orjson.dumps(write)
            with bench.measured(case):
                bench.post("/api/v1/osquery/distributed/write", encoded)
            _flush_buffers()
        with bench.measured("empty view"):
            bench.client.get("/bench/empty")
    for _ in range(count * 4):  # more baseline samples: it is cheap and the ratio rests on it
        with bench.measured("empty view"):
            bench.client.get("/bench/empty")


def package_rows(count: int, generation: int) -> list[dict[str, str]]:
    """`count` deb packages as software_linux returns them; a new `generation` names new ones."""
    return [
        {"name": f"bench-pkg-{generation}-{n}", "version": f"1.{n % 10}.{n % 7}-1", "bundle_identifier": "",
         "extension_id": "", "extension_for": "", "source": "deb_packages", "vendor": "Bench Maintainers",
         "last_opened_at": "", "installed_path": "", "release": "", "arch": "amd64"}
        for n in range(count)
    ]  # fmt: skip


def many_packages(bench: Bench, secret: str, count: int, repeats: int) -> None:
    """Per repeat: a host writes `count` packages new to the catalogue, another the same ones, then again."""
    import orjson

    for repeat in range(repeats):
        rows = package_rows(count, repeat)
        for index, case in enumerate(("30,000 new packages", "30,000 known packages")):
            identifier = f"bench-many-{repeat}-{index}"
            details = {"os_version": {"platform": "ubuntu", "name": "Ubuntu", "version": "22.04"}}
            body = {"enroll_secret": secret, "host_identifier": identifier, "platform_type": "linux",
                    "host_details": details}  # fmt: skip
            node_key = bench.post("/api/v1/osquery/enroll", body)["node_key"]
            write = orjson.dumps({"node_key": node_key, "queries": {"fleet_detail_query_software_linux": rows},
                                  "statuses": {"fleet_detail_query_software_linux": 0}})  # fmt: skip
            with bench.measured(case):
                bench.post("/api/v1/osquery/distributed/write", write)
            if index == 1:
                with bench.measured("30,000 packages (refetch, unchanged)"):
                    bench.post("/api/v1/osquery/distributed/write", write)
            _flush_buffers()


def report(bench: Bench, vendor: str) -> None:
    empty = bench.cases["empty view"].cpu_ms
    print(f"\nIn-process detail writes on {vendor} (median per request: this process's CPU, and wall time)")
    print(f"{'case':40} {'n':>4} {'CPU ms':>9} {'spread':>17} {'x empty':>8} {'SQL':>5} {'wall ms':>9}")
    for case in bench.cases.values():
        if not case.cpu:
            continue
        low, high = case.spread_ms
        ratio = case.cpu_ms / empty if empty else 0.0
        print(f"{case.name:40} {len(case.cpu):>4} {case.cpu_ms:>9.2f} {low:>8.2f}-{high:<8.2f} "
              f"{ratio:>7.1f}x {case.median_statements:>5.0f} {case.wall_ms:>9.2f}")  # fmt: skip
    for name in ("detail write (first)", "detail write (refetch, unchanged)"):
        ratio = bench.cases[name].cpu_ms / empty if empty else 0.0
        verdict = "met" if ratio <= TARGET_RATIO else f"missed by {ratio / TARGET_RATIO:.1f}x"
        print(f"  target {name} <= {TARGET_RATIO:.0f}x empty: {verdict}")
    for name in ("30,000 new packages", "30,000 known packages"):
        seconds = bench.cases[name].wall_ms / 1000
        verdict = "met" if seconds < TARGET_PACKAGES_S else f"missed by {seconds - TARGET_PACKAGES_S:.2f} s"
        print(f"  target {name} < {TARGET_PACKAGES_S:.0f} s (wall, database included): {verdict}")


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="ingestbench-") as tmp:
        setup_django(args.database_url, Path(tmp))
        from django.db import connection

        from enrollment import secrets

        secret = secrets.add(None).secret
        bench = Bench(args.profile)
        typical_hosts(bench, secret, args.hosts)
        many_packages(bench, secret, args.packages, args.repeats)
        report(bench, connection.vendor)
        if args.profile:
            print(f"\ncProfile of {args.profile!r} ({args.profile_sort}):")
            stats = pstats.Stats(bench.profiler, stream=sys.stdout).sort_stats(args.profile_sort)
            stats.print_stats(args.profile_lines)


if __name__ == "__main__":
    main()
