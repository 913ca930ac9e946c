"""`python -m bench.profile_checkins`: where an idle check-in's CPU goes in a real server.

Starts `manage.py serve` on its own MariaDB database (as `make bench` does), enrolls 200 hosts,
answers their detail queries so nothing is due, then sends each request kind in turn, five per
host, `--repeats` times, and prints the server's CPU per request beside the empty view's. For
the kinds named in `--spy`, py-spy (`requirements-dev.txt`) records the server during the first
repeat, sampling only the thread holding the GIL, as collapsed stacks in `--out`; turn them into
a small SVG with `python -m bench.flamegraph`. See docs/profiles/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from agentsim.catalogue import HostData
from agentsim.identity import make_identities
from bench.checkins import Agent, _empty_calls, _gather_limited, measure, server_flush
from bench.live_query import prepare_admin, prepare_logged_query
from bench.server import bench_server, stop_and_drop
from fleetsite.liveserver import LiveServer

HOSTS = 200
KINDS: dict[str, Callable[[Agent], Callable[[], Awaitable[Any]]] | None] = {
    "empty": None,
    "read": lambda agent: agent.read,
    "config": lambda agent: agent.config,
    "orbit_config": lambda agent: agent.orbit_config,
    "ping": lambda agent: agent.orbit_ping,
    "log": lambda agent: agent.log,
    # A first detail answer: each repeat enrolls a fresh group, asks it for its details (not
    # measured), then measures the answers. One per host: a host answers its details once.
    "write": lambda agent: agent.write,
}
FIRST_ANSWERS = {"write"}


async def _fresh_group(session: aiohttp.ClientSession, url: str, secret: str, seed: int, size: int) -> list[Agent]:
    """Newly enrolled hosts that have just read their detail queries, for a first-answer kind."""
    agents = [Agent(session, url, HostData(ident, time.time())) for ident in make_identities(size, "mixed", seed=seed)]
    await _gather_limited([lambda a=a: a.enroll(secret) for a in agents], 16)
    await _gather_limited([a.read for a in agents], 32)
    return agents


async def run(server: LiveServer, pid: int, secret: str, spy: set[str], out: Path, repeats: int) -> None:
    datas = [HostData(ident, time.time()) for ident in make_identities(HOSTS, "mixed", seed=11)]
    fresh_seeds = iter(range(1000, 2000))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as session:
        flush = server_flush(session, server.url)
        agents = [Agent(session, server.url, data) for data in datas]
        await _gather_limited([lambda a=a: a.enroll(secret) for a in agents], 16)
        await _gather_limited([lambda a=a: a.orbit_enroll(secret) for a in agents], 16)
        for _ in range(2):  # details, then labels: afterwards nothing is due
            await _gather_limited([a.read for a in agents], 32)
            await _gather_limited([a.write for a in agents], 32)
        await _gather_limited([a.config for a in agents], 32)
        results: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for repeat in range(repeats):
            for kind, make in KINDS.items():
                spied = kind in spy and repeat == 0
                rounds = 5 * (3 if spied else 1)  # a recorded repeat runs three times as long, for samples
                if make is None:
                    calls = await _empty_calls(session, server.url, HOSTS * rounds)
                elif kind in FIRST_ANSWERS:
                    group = await _fresh_group(session, server.url, secret, next(fresh_seeds), HOSTS * rounds)
                    calls = [make(agent) for agent in group]
                else:
                    calls = [make(agent) for agent in agents] * rounds
                recorder = None
                if spied:
                    recorder = subprocess.Popen(
                        [str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(pid), "--gil", "-r", "200",
                         "-f", "raw", "-o", str(out / f"{kind}.txt"), "--nonblocking"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    )  # fmt: skip
                    await asyncio.sleep(1)
                measured, _ = await measure(kind, pid, calls, flush=flush)
                if recorder is not None:
                    recorder.send_signal(signal.SIGINT)
                    recorder.wait()
                results[kind].append(measured.per_request)
        empty = statistics.median(results["empty"])
        for kind, values in results.items():
            median = statistics.median(values)
            print(f"{kind:14} {median:.3f} CPU-ms  x{median / empty:.2f}  {' '.join(f'{v:.3f}' for v in values)}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_checkins")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", "mysql://root@127.0.0.1:3306/test"))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument("--spy", default="", help="comma list of kinds to record: " + ",".join(KINDS))
    parser.add_argument("--out", type=Path, default=Path("."), help="where the collapsed stacks go")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fleetsite-profile-") as tmp:
        data_dir = Path(tmp)
        server = bench_server(args.database_url, args.redis_url, data_dir, "profile")
        server.start()
        try:
            secret = server.manage("enroll_secret", "add").strip()
            prepare_logged_query(server, prepare_admin(server))
            pid = server.process.pid if server.process else 0
            spy = {kind for kind in args.spy.split(",") if kind}
            asyncio.run(run(server, pid, secret, spy, args.out, args.repeats))
        finally:
            stop_and_drop(server)


if __name__ == "__main__":
    main()
