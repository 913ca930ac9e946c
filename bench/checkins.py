"""Server CPU per agent request, endpoint by endpoint, against an empty-view baseline.

Each phase sends one kind of request from many simulated hosts and divides the server
process's CPU time (user + system, from /proc) by the number of requests. The load generator
runs in this process, so only the server's own CPU is counted.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from agentsim.answers import build_distributed_write
from agentsim.catalogue import HostData
from agentsim.identity import make_identities
from agentsim.logs import snapshot_entry
from fleetsite.liveserver import BASE_DIR, LiveServer, free_port

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (gunicorn workers), in seconds."""
    pids = [pid]
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout.split()
    pids.extend(int(child) for child in children)
    total = 0.0
    for each in pids:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


@dataclass
class Measurement:
    name: str
    requests: int
    cpu_ms: float
    wall_s: float

    @property
    def per_request(self) -> float:
        return self.cpu_ms / self.requests if self.requests else 0.0


async def _gather_limited(calls: list[Callable[[], Awaitable[Any]]], concurrency: int) -> list[Any]:
    semaphore = asyncio.Semaphore(concurrency)

    async def limited(call: Callable[[], Awaitable[Any]]) -> Any:
        async with semaphore:
            return await call()

    return await asyncio.gather(*(limited(call) for call in calls))


async def measure(
    name: str, pid: int, calls: list[Callable[[], Awaitable[Any]]], concurrency: int = 16
) -> tuple[Measurement, list[Any]]:
    cpu_before, started = process_cpu_seconds(pid), time.monotonic()
    results = await _gather_limited(calls, concurrency)
    wall = time.monotonic() - started
    cpu_ms = (process_cpu_seconds(pid) - cpu_before) * 1000
    return Measurement(name, len(calls), cpu_ms, wall), results


class Agent:
    """One simulated host speaking the osquery protocol, with realistic rows from agentsim."""

    def __init__(self, session: aiohttp.ClientSession, url: str, data: HostData) -> None:
        self.session, self.url, self.data = session, url, data
        self.node_key = ""
        self.last_read: dict[str, Any] = {}

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.session.post(self.url + path, json=body) as response:
            payload = await response.json(content_type=None)
            if response.status != 200:
                raise RuntimeError(f"{path}: {response.status} {payload}")
            return payload

    async def enroll(self, secret: str) -> None:
        body = {
            "enroll_secret": secret,
            "host_identifier": self.data.ident.hardware_uuid,
            "platform_type": self.data.ident.platform_type,
            "host_details": self.data.host_details(),
        }
        self.node_key = (await self.post("/api/v1/osquery/enroll", body))["node_key"]

    async def config(self) -> None:
        await self.post("/api/v1/osquery/config", {"node_key": self.node_key})

    async def read(self) -> int:
        self.last_read = await self.post("/api/v1/osquery/distributed/read", {"node_key": self.node_key})
        return len(self.last_read.get("queries") or {})

    async def write(self) -> None:
        body = build_distributed_write(self.node_key, self.last_read, self.data)
        if body is not None:
            await self.post("/api/v1/osquery/distributed/write", body)

    async def log(self) -> None:
        now = time.time()
        rows = [{"pid": str(pid), "name": f"proc-{pid}", "path": f"/usr/bin/proc-{pid}"} for pid in range(10)]
        entry = snapshot_entry("pack/Global/processes", rows, self.data, now)
        await self.post("/api/v1/osquery/log", {"node_key": self.node_key, "log_type": "result", "data": [entry]})


def start_gunicorn_baseline(data_dir: Path, database_url: str, redis_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = LiveServer(data_dir=data_dir, database_url=database_url, redis_url=redis_url).env()
    env["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    command = [
        str(Path(sys.executable).parent / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}",
        "--log-level", "warning", "bench.wsgi_bench:application",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=BASE_DIR, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            subprocess.run(["curl", "-sf", f"{url}/bench/empty"], check=True, capture_output=True)
            return process, url
        except subprocess.CalledProcessError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn baseline did not start")


async def empty_view(url: str, pid: int, count: int, name: str) -> Measurement:
    async with aiohttp.ClientSession() as session:

        async def call() -> None:
            async with session.get(f"{url}/bench/empty") as response:
                await response.read()

        await _gather_limited([call] * 200, 8)  # warm-up
        result, _ = await measure(name, pid, [call] * count, concurrency=8)
        return result


async def checkin_phases(server: LiveServer, pid: int, secret: str, hosts: int, rounds: int) -> list[Measurement]:
    """Enroll, config, idle reads, detail writes and result logs, each measured on its own."""
    url = server.url
    now = time.time()
    datas = [HostData(ident, now) for ident in make_identities(hosts, "mixed", seed=11)]
    connector = aiohttp.TCPConnector(limit=32)
    async with aiohttp.ClientSession(connector=connector) as session:
        agents = [Agent(session, url, data) for data in datas]
        results = []
        enroll, _ = await measure("enroll", pid, [lambda a=a: a.enroll(secret) for a in agents])
        results.append(enroll)
        writes = []
        for _ in range(max(1, rounds // 2)):
            await _gather_limited([a.read for a in agents], 32)  # the read that hands out detail queries
            write, _ = await measure("distributed/write", pid, [a.write for a in agents])
            writes.append(write)
            refetch_all(server)
        results.append(_combine("distributed/write (detail results)", writes))
        # Steady state: the first config after enrolling stores the served intervals (one UPDATE per
        # host, once); measured here, after the detail queries stored them as a running fleet has.
        config, _ = await measure("config", pid, [lambda a=a: a.config() for a in agents for _ in range(rounds)])
        results.append(config)
        await _gather_limited([a.read for a in agents], 32)
        await _gather_limited([a.write for a in agents], 32)  # answers labels too: now nothing is due
        idle, sent = await measure("distributed/read (idle)", pid, [a.read for a in agents for _ in range(rounds)])
        results.append(idle)
        if any(sent):
            print(f"  note: {sum(1 for n in sent if n)} idle reads still carried queries")
        log, _ = await measure("log (result, 10 rows)", pid, [a.log for a in agents for _ in range(rounds)])
        results.append(log)
    return results


def _combine(name: str, parts: list[Measurement]) -> Measurement:
    return Measurement(name, sum(p.requests for p in parts), sum(p.cpu_ms for p in parts), sum(p.wall_s for p in parts))


def refetch_all(server: LiveServer) -> None:
    """Ask every host for its details again (as an admin's refetch would), outside the measured window."""
    server.manage("shell", "-c", "from hosts.models import Host; Host.objects.update(refetch_requested=True)")
