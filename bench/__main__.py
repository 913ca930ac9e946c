"""`make bench`: server CPU per agent request on MariaDB + Redis, beside an empty Django view under gunicorn.

Prints CPU-ms per request for each agent endpoint, the ratio to the gunicorn empty view
measured in the same run, and the hosts one core can carry at default intervals with 40%
headroom: 0.6 x 1000 / sum(rate x CPU-ms). Then it runs agentsim against the server, reports
the CPU the server actually used, and times a live query to the whole simulated fleet.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from bench.checkins import (
    Measurement,
    checkin_phases,
    empty_view,
    start_gunicorn_baseline,
)
from bench.live_query import prepare_admin, soak_with_live_query
from fleetsite.liveserver import LiveServer, isolated_database_url

# Requests per host per second at Fleet's defaults: distributed/read every 10 s, config every
# 60 s (fleetd's --config_refresh), a result log every 10 s (logger_tls_period) when scheduled
# queries produce rows, and detail plus label writes once an hour each.
RATES = {
    "distributed/read (idle)": 1 / 10,
    "config": 1 / 60,
    "log (result, 10 rows)": 1 / 10,
    "distributed/write (detail results)": 2 / 3600,
}
TARGET_RATIO = {"distributed/read (idle)": 2.0, "config": 2.0}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", "mysql://root@127.0.0.1:3306/test"))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument("--hosts", type=int, default=500, help="simulated hosts in the per-endpoint phases")
    parser.add_argument("--rounds", type=int, default=4, help="requests per host in each phase")
    parser.add_argument("--soak-hosts", type=int, default=1000)
    parser.add_argument("--soak-seconds", type=float, default=180)
    parser.add_argument("--skip-packages", action="store_true", help="do not time installer builds")
    parser.add_argument("--list-hosts", type=int, default=100_000, help="seed this many hosts and time the host list")
    return parser.parse_args()


def print_table(baseline: Measurement, serve_empty: Measurement, rows: list[Measurement]) -> None:
    base = baseline.per_request
    print(f"\n{'endpoint':38} {'requests':>8} {'CPU-ms/req':>10} {'x empty':>8} {'req/s':>8}")
    print(f"{'empty view, gunicorn (baseline)':38} {baseline.requests:8d} {base:10.3f} {1.0:8.2f} "
          f"{baseline.requests / baseline.wall_s:8.0f}")  # fmt: skip
    for row in [serve_empty, *rows]:
        ratio = row.per_request / base if base else 0.0
        target = TARGET_RATIO.get(row.name)
        verdict = "" if target is None else ("  ok (target <= 2.0)" if ratio <= target else "  OVER target 2.0")
        print(f"{row.name:38} {row.requests:8d} {row.per_request:10.3f} {ratio:8.2f} {row.requests / row.wall_s:8.0f}"
              f"{verdict}")  # fmt: skip


def hosts_per_core(rows: list[Measurement]) -> float:
    by_name = {row.name: row.per_request for row in rows}
    load_ms_per_host_second = sum(rate * by_name[name] for name, rate in RATES.items())
    return 0.6 * 1000 / load_ms_per_host_second


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="fleetsite-bench-") as tmp:
        data_dir = Path(tmp)
        database_url = isolated_database_url(args.database_url, data_dir, suffix="bench")
        server = LiveServer(
            data_dir=data_dir / "serve",
            database_url=database_url,
            redis_url=args.redis_url,
            extra_env={"DJANGO_SETTINGS_MODULE": "bench.settings", "LOG_LEVEL": "WARNING"},
        )
        print(f"database {database_url.split('@')[-1]}, redis {args.redis_url}, {os.cpu_count()} cores")
        server.start()
        gunicorn, gunicorn_url = start_gunicorn_baseline(data_dir / "gunicorn", database_url, args.redis_url)
        try:
            # The baseline moves with the machine's load: take the median of three runs.
            runs = [asyncio.run(empty_view(gunicorn_url, gunicorn.pid, 3000, "empty view, gunicorn")) for _ in range(3)]
            baseline = sorted(runs, key=lambda run: run.per_request)[1]
        finally:
            gunicorn.terminate()
            gunicorn.wait()
        pid = server.process.pid if server.process else 0
        try:
            serve_empty = asyncio.run(empty_view(server.url, pid, 4000, "empty view, manage.py serve"))
            secret = server.manage("enroll_secret", "add").strip()
            rows = asyncio.run(checkin_phases(server, pid, secret, args.hosts, args.rounds))
            print_table(baseline, serve_empty, rows)
            capacity = hosts_per_core(rows)
            print(f"\nhosts per core at default intervals (0.6 x 1000 / sum(rate x CPU-ms)): {capacity:,.0f}", end="")
            print("  (target >= 3,000)")
            if args.soak_hosts:
                prepare_admin(server)
                asyncio.run(soak_with_live_query(server, pid, secret, args.soak_hosts, args.soak_seconds))
            if args.list_hosts:
                print_hosts_list(server, args.list_hosts)
        except Exception:
            print("server log (tail):\n" + server.log())
            raise
        finally:
            server.stop()
    if not args.skip_packages:
        print_build_times()


def print_hosts_list(server: LiveServer, count: int) -> None:
    """Host list API and page at scale: median server ms per page of 100, beside the empty view."""
    from bench import hosts_list

    started = time.monotonic()
    server.manage("seed_hosts", str(count), "--quiet")
    print(f"\nseeded {count:,} hosts in {time.monotonic() - started:.0f} s; median ms per request (15 rounds):")
    token = (
        server.manage(
            "shell",
            "-c",
            "from accounts.models import User; from accounts.tokens import issue_session; "
            "u = User.objects.filter(email='list-bench@example.com').first() or User.objects.create_user("
            "'list-bench@example.com', 'x' * 20, global_role='admin'); print(issue_session(u))",
        )
        .strip()
        .splitlines()[-1]
    )  # fmt: skip  (Django's shell may print a line of its own first)
    rows = hosts_list.run(server.url, token)
    baseline = rows[0][1]
    for name, ms in rows[1:]:
        ratio = ms / baseline
        verdict = ""
        if name in hosts_list.TARGETED:
            verdict = "  ok (target <= 10x)" if ratio <= 10 else "  OVER target 10x"
        print(f"  {name:38} {ms:8.1f} ms  x{ratio:5.1f} empty{verdict}")
    print(f"  {'(empty view, the baseline)':38} {baseline:8.1f} ms")


def print_build_times() -> None:
    """Installer builds with a warm target cache, beside the packager seed's 16-30 s."""
    from packaging.bench import build_times

    print("\ninstaller builds, warm target cache (seed: 16-30 s a package; targets: deb/rpm/pkg <= 2 s, msi <= 5 s)")
    for name, seconds in build_times():
        print(f"  {name:40} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
