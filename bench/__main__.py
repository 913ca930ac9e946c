"""`make bench`: what one `serve` worker costs per agent, on MariaDB + Redis, measured honestly.

1. The headline: a paced agentsim soak (osquery and orbit at fleetd's default intervals, result
   logs from a scheduled query, production flush intervals), as hosts per core at 60% of one
   core, with the database's and Redis's CPU beside the server's.
2. Each agent request kind, interleaved with an empty Django view on the same server (A, B, A,
   B...), `--repeats` times: the median ratio and its spread, paced (as agents send them, as
   issue 13 asks) and busy (back to back). Targets: idle check-ins <= 1.0x, detail writes <= 5x.
3. Two live queries to the soak's hosts; the host list at `--list-hosts` hosts; vulnerability
   matching at `--vuln-hosts` hosts (bench/vuln_matching.py); installer builds.

`--quick` is a developer's loop: fewer hosts, shorter soak, a small host list, no installers.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.checkins import CONCURRENCY, PACED_RATE, PACED_WRITE_RATE, Interleaved, checkin_phases, empty_view_only
from bench.database import sized_for_bench
from bench.live_query import prepare_admin, prepare_logged_query, soak_only, soak_with_live_query
from bench.server import bench_server, stop_and_drop
from fleetsite.liveserver import LiveServer

# Targets from issue 13: idle check-ins at most the empty view, a detail write at most 5x it.
TARGET_RATIO = {
    "distributed/read (idle)": 1.0,
    "osquery config": 1.0,
    "orbit config": 1.0,
    "orbit ping": 1.0,
    "log (result, 10 rows)": 1.0,
    "distributed/write (detail results)": 5.0,
    # Issue 15: announcing pending work costs at most 1.2x today's orbit config (1.0x the empty view).
    "orbit config (script pending)": 1.2,
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", "mysql://root@127.0.0.1:3306/test"))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument("--quick", action="store_true", help="a short run for a developer's loop")
    parser.add_argument("--hosts", type=int, default=500, help="simulated hosts per repeat in the per-request phases")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats of each case (at least 5)")
    parser.add_argument("--soak-hosts", type=int, default=1000)
    parser.add_argument("--soak-seconds", type=float, default=240, help="whole soak; the steady window is the middle")
    parser.add_argument(
        "--scale-workers", type=int, default=2, help="soak with this many workers, hosts times as many (0: skip)"
    )
    parser.add_argument("--skip-packages", action="store_true", help="do not time installer builds")
    parser.add_argument("--list-hosts", type=int, default=1_000_000, help="seed this many hosts and time the host list")
    parser.add_argument("--vuln-hosts", type=int, default=10_000, help="hosts for vulnerability matching (0: skip)")
    # --quick changes the defaults; options given on the command line still win.
    if parser.parse_known_args()[0].quick:
        parser.set_defaults(hosts=100, repeats=3, soak_hosts=300, soak_seconds=90, list_hosts=10_000, vuln_hosts=1000)
        parser.set_defaults(skip_packages=True, scale_workers=0)
    args = parser.parse_args()
    return args


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or "unknown CPU",
    )
    return f"{datetime.date.today().isoformat()}, {model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _verdict(name: str, ratio: float) -> str:
    target = TARGET_RATIO.get(name)
    return "" if target is None else ("ok" if ratio <= target else f"OVER {target:g}x")


def print_table(rows: list[Interleaved]) -> None:
    print("\nper request, interleaved with the same server's empty view sent the same way (median of repeats;")
    print(f"spread = min-max ratio). paced: {PACED_RATE:g} requests a second ({PACED_WRITE_RATE:g} for detail writes),")
    print(f"as agents send them; busy: {CONCURRENCY} at a time, back to back.")
    print(f"{'request':38} {'target':>6} | {'paced':>6} {'spread':>11} {'CPU-ms':>6} {'empty':>6} {'':10} | "
          f"{'busy':>6} {'spread':>11} {'CPU-ms':>6} {'empty':>6}")  # fmt: skip
    for row in rows:
        target = TARGET_RATIO.get(row.name)
        paced = row.paced
        if paced is None:
            paced_columns = f"{'-':>6} {'':11} {'':6} {'':6} {'':10}"
        else:
            low, high = paced.spread
            paced_columns = (f"{paced.ratio:6.2f} {low:5.2f}-{high:<5.2f} {paced.cpu_ms:6.3f} {paced.empty_ms:6.3f} "
                             f"{_verdict(row.name, paced.ratio):10}")  # fmt: skip
        low, high = row.spread
        print(f"{row.name:38} {'' if target is None else f'{target:g}x':>6} | {paced_columns} | "
              f"{row.ratio:6.2f} {low:5.2f}-{high:<5.2f} {row.cpu_ms:6.3f} {row.empty_ms:6.3f} "
              f"{_verdict(row.name, row.ratio)}")  # fmt: skip


def main() -> None:
    args = parse_args()
    print(f"fleetsite bench: {machine()}")
    with sized_for_bench(args.database_url) as sizing:
        print(sizing)
        run(args)


def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="fleetsite-bench-") as tmp:
        data_dir = Path(tmp)
        server = bench_server(args.database_url, args.redis_url, data_dir, "bench")
        database_url = server.database_url
        print(f"database {database_url.split('@')[-1]}, redis {args.redis_url}, one `serve` worker")
        server.start()
        pid = server.process.pid if server.process else 0
        try:
            empty = asyncio.run(empty_view_only(server.url, pid, 4000))
            print(f"empty Django view on this server: {empty.per_request:.3f} CPU-ms per request")
            secret = server.manage("enroll_secret", "add").strip()
            token = prepare_admin(server)
            prepare_logged_query(server, token)
            if args.soak_hosts:
                asyncio.run(
                    soak_with_live_query(server, pid, secret, args.soak_hosts, args.soak_seconds, token, args.redis_url)
                )
            rows = asyncio.run(checkin_phases(server, pid, secret, args.hosts, max(1, args.repeats)))
            print_table(rows)
            if args.list_hosts:
                print_hosts_list(server, args.list_hosts)
        except Exception:
            print("server log (tail):\n" + server.log())
            raise
        finally:
            stop_and_drop(server)
    if args.scale_workers > 1 and args.soak_hosts:
        print_scale_out(args)
    if args.vuln_hosts:
        print_vulnerability_matching(args.database_url, args.vuln_hosts)
    if not args.skip_packages:
        print_build_times()


def print_scale_out(args: argparse.Namespace) -> None:
    """The soak on a server with more workers and proportionally more hosts, the database on this machine too:
    how throughput grows with workers (issue 13, item 6)."""
    workers = args.scale_workers
    with tempfile.TemporaryDirectory(prefix="fleetsite-bench-scale-") as tmp:
        server = bench_server(args.database_url, args.redis_url, Path(tmp), "scale", workers=workers)
        server.start()
        try:
            secret = server.manage("enroll_secret", "add").strip()
            hosts = args.soak_hosts * workers
            title = f"scale-out: {workers} serve workers, {hosts} hosts, database and load generator on the same cores"
            pid = server.process.pid if server.process else 0
            asyncio.run(soak_only(server, pid, secret, hosts, args.soak_seconds, args.redis_url, title))
        except Exception:
            print("server log (tail):\n" + server.log())
            raise
        finally:
            stop_and_drop(server)


def print_vulnerability_matching(database_url: str, hosts: int) -> None:
    """Matching runs in its own process on its own database: bench/vuln_matching.py."""
    print()
    command = [sys.executable, "-m", "bench.vuln_matching", "--database-url", database_url, "--hosts", str(hosts)]
    if hosts < 10_000:
        command += ["--advisories", str(hosts * 5)]
    subprocess.run(command, check=True, cwd=Path(__file__).resolve().parent.parent)


def print_hosts_list(server: LiveServer, count: int) -> None:
    """Host list API and page at scale: median server ms per page of 100, beside the empty view."""
    from bench import hosts_list

    started = time.monotonic()
    server.manage("seed_hosts", str(count), "--teams", "4", "--policies", "4", "--quiet")
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
    print("  (each case alternates with the empty view on one keep-alive connection; ratio = median of rounds)")
    for case in hosts_list.run(server.url, token):
        verdict = "  ok (<= 10x)" if case.ratio <= hosts_list.TARGET else "  OVER 10x"
        print(f"  {case.name:48} {case.ms:7.1f} ms  empty {case.empty_ms:5.2f} ms  x{case.ratio:5.1f} "
              f"({case.spread[0]:.1f}-{case.spread[1]:.1f}){verdict}")  # fmt: skip


def print_build_times() -> None:
    """Installer builds with a warm target cache, beside the packager seed's 16-30 s."""
    from packaging.bench import build_times

    print("\ninstaller builds, warm target cache (seed: 16-30 s a package; targets: deb/rpm/pkg <= 2 s, msi <= 5 s)")
    for name, seconds in build_times():
        print(f"  {name:40} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
