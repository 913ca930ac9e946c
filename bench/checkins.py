"""Server CPU per agent request, endpoint by endpoint, against an empty-view baseline.

Each phase sends one kind of request from many simulated hosts and divides the server
process's CPU time (user + system, from /proc) by the number of requests. The load generator
runs in this process, so only the server's own CPU is counted.

Each check-in and detail write is measured twice, each time beside the empty view sent the same
way (enrollment and the script phases busy only):
- paced: requests start at a steady `PACED_RATE`, as agents send them (issue 13 asks for the
  check-in ratios paced). Every request then wakes the server on its own, and that wake-up costs
  the empty view as much as an agent request: on the soak's VM the empty view took 1.1 CPU-ms
  paced against 0.65 busy, the same as the soak's 0.9 CPU-ms per request;
- busy: `CONCURRENCY` requests at a time, back to back, the server's cost per request when it
  has no pause between them; the transport's wake-ups are shared out and the handler's own
  cost shows more.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp

from agentsim.answers import build_distributed_write
from agentsim.catalogue import HostData
from agentsim.identity import make_identities
from agentsim.logs import snapshot_entry
from fleetsite.liveserver import LiveServer

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (serve workers), in seconds."""
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


@dataclass
class Interleaved:
    """One case measured in alternation with the same server's empty view (A, B, A, B...).

    The machine's speed drifts from minute to minute; a ratio taken from two batches seconds
    apart on the same process is what the code controls, so each repeat gives its own ratio.
    `paced` holds the same case measured paced (`PACED_RATE`), where the phase measures it so.
    """

    name: str
    cases: list[Measurement] = field(default_factory=list)
    empties: list[Measurement] = field(default_factory=list)
    paced: Interleaved | None = None

    @property
    def ratios(self) -> list[float]:
        return [c.per_request / e.per_request for c, e in zip(self.cases, self.empties, strict=True) if e.per_request]

    @property
    def cpu_ms(self) -> float:
        return statistics.median(c.per_request for c in self.cases)

    @property
    def empty_ms(self) -> float:
        return statistics.median(e.per_request for e in self.empties)

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios) if self.ratios else 0.0

    @property
    def spread(self) -> tuple[float, float]:
        return (min(self.ratios), max(self.ratios)) if self.ratios else (0.0, 0.0)

    @property
    def requests(self) -> int:
        return sum(c.requests for c in self.cases)


async def _gather_limited(calls: list[Callable[[], Awaitable[Any]]], concurrency: int) -> list[Any]:
    semaphore = asyncio.Semaphore(concurrency)

    async def limited(call: Callable[[], Awaitable[Any]]) -> Any:
        async with semaphore:
            return await call()

    return await asyncio.gather(*(limited(call) for call in calls))


async def _paced(calls: list[Callable[[], Awaitable[Any]]], rate: float) -> list[Any]:
    """Start call i at i / rate seconds, whether or not the earlier ones have answered (agents do not wait)."""
    started = time.monotonic()

    async def at(index: int, call: Callable[[], Awaitable[Any]]) -> Any:
        await asyncio.sleep(max(0.0, started + index / rate - time.monotonic()))
        return await call()

    return await asyncio.gather(*(at(index, call) for index, call in enumerate(calls)))


# Both sides of a comparison use the same client concurrency, so neither gains from batching.
CONCURRENCY = 8
# Requests per second in a paced window: the soak's 1,000 hosts at fleetd's intervals send about 190.
PACED_RATE = 200.0
# A detail write costs about 4 CPU-ms: at PACED_RATE it would keep the server 80% busy, not paced.
PACED_WRITE_RATE = 100.0
# Requests in a paced window of a repeatable request (2 s at PACED_RATE; /proc counts 10 ms ticks).
PACED_REQUESTS = 400


async def measure(
    name: str,
    pid: int,
    calls: list[Callable[[], Awaitable[Any]]],
    concurrency: int = CONCURRENCY,
    flush: Callable[[], Awaitable[Any]] | None = None,
    rate: float | None = None,
) -> tuple[Measurement, list[Any]]:
    """The server's CPU over `calls`; with `flush`, the writes they left behind are made inside the window.

    `flush` runs before the window too, so the window pays for its own writes only. With `rate`,
    the calls are paced at that many a second instead of `concurrency` at a time.
    """
    if flush is not None:
        await flush()
    cpu_before, started = process_cpu_seconds(pid), time.monotonic()
    results = await (_paced(calls, rate) if rate else _gather_limited(calls, concurrency))
    if flush is not None:
        await flush()
    wall = time.monotonic() - started
    cpu_ms = (process_cpu_seconds(pid) - cpu_before) * 1000
    return Measurement(name, len(calls), cpu_ms, wall), results


def server_flush(session: aiohttp.ClientSession, url: str) -> Callable[[], Awaitable[Any]]:
    """`/bench/flush` (bench/urls.py): seen times and report rows written now, not by the flusher 2 s later."""

    async def flush() -> None:
        async with session.post(url + "/bench/flush") as response:
            if response.status != 200:
                raise RuntimeError(f"/bench/flush: HTTP {response.status}")
            await response.read()

    return flush


class Agent:
    """One simulated host speaking the osquery protocol, with realistic rows from agentsim."""

    def __init__(self, session: aiohttp.ClientSession, url: str, data: HostData) -> None:
        self.session, self.url, self.data = session, url, data
        self.node_key = ""
        self.orbit_node_key = ""
        self.last_read: dict[str, Any] = {}
        self.pending_scripts: list[str] = []

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

    async def orbit_enroll(self, secret: str) -> None:
        ident = self.data.ident
        body = {
            "enroll_secret": secret,
            "hardware_uuid": ident.hardware_uuid,
            "hardware_serial": ident.hardware_serial,
            "hostname": ident.hostname,
            "platform": ident.platform,
            "osquery_identifier": "",
            "computer_name": ident.computer_name,
            "hardware_model": ident.hardware_model,
        }
        self.orbit_node_key = (await self.post("/api/fleet/orbit/enroll", body))["orbit_node_key"]

    async def orbit_config(self) -> None:
        config = await self.post("/api/fleet/orbit/config", {"orbit_node_key": self.orbit_node_key})
        self.pending_scripts = list((config.get("notifications") or {}).get("pending_script_execution_ids") or [])

    async def script_result(self) -> None:
        """The result of the script the last orbit config announced, as fleetd posts it."""
        for execution_id in self.pending_scripts:
            body = {"orbit_node_key": self.orbit_node_key, "execution_id": execution_id, "output": "bench ran\n",
                    "runtime": 1, "exit_code": 0, "timeout": 300}  # fmt: skip
            await self.post("/api/fleet/orbit/scripts/result", body)
        self.pending_scripts = []

    async def orbit_ping(self) -> None:
        async with self.session.head(self.url + "/api/fleet/orbit/ping") as response:
            if response.status != 200:
                raise RuntimeError(f"orbit ping: {response.status}")

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
        """Ten result rows of a query the server schedules, so they reach its report and destinations."""
        now = time.time()
        rows = [{"pid": str(pid), "name": f"proc-{pid}", "path": f"/usr/bin/proc-{pid}"} for pid in range(10)]
        entry = snapshot_entry(f"pack/Global/{LOGGED_QUERY}", rows, self.data, now)
        await self.post("/api/v1/osquery/log", {"node_key": self.node_key, "log_type": "result", "data": [entry]})


# The scheduled query the log phase reports results for; `prepare_logged_query` creates it.
LOGGED_QUERY = "bench_processes"


async def _empty_calls(session: aiohttp.ClientSession, url: str, count: int) -> list[Callable[[], Awaitable[None]]]:
    async def call() -> None:
        async with session.get(f"{url}/bench/empty") as response:
            await response.read()

    return [call] * count


async def interleave(
    result: Interleaved,
    pid: int,
    session: aiohttp.ClientSession,
    url: str,
    case_calls: list[Callable[[], Awaitable[Any]]],
    paced_calls: list[Callable[[], Awaitable[Any]]] | None = None,
    rate: float = PACED_RATE,
) -> list[Any]:
    """One repeat: the empty view with as many requests as the case, then the case; then both again paced.

    The paced pair runs when `paced_calls` are given, at `rate`. The answers returned are the
    busy case's followed by the paced case's.
    """
    flush = server_flush(session, url)
    answers = []
    modes = [(result, case_calls, None)]
    if paced_calls:
        result.paced = result.paced or Interleaved(result.name)
        modes.append((result.paced, paced_calls, rate))
    for into, calls, pace in modes:
        empty_calls = await _empty_calls(session, url, len(calls) if pace else max(len(calls), 200))
        empty, _ = await measure("empty view", pid, empty_calls, flush=flush, rate=pace)
        case, case_answers = await measure(result.name, pid, calls, flush=flush, rate=pace)
        into.empties.append(empty)
        into.cases.append(case)
        answers += case_answers
    return answers


def _halves(calls: list[Callable[[], Awaitable[Any]]]) -> tuple[list[Callable[[], Awaitable[Any]]], ...]:
    """The calls of a request a host sends once (a first answer, a refetch): half busy, half paced."""
    middle = len(calls) // 2
    return calls[:middle], calls[middle:]


async def empty_view_only(url: str, pid: int, count: int) -> Measurement:
    async with aiohttp.ClientSession() as session:
        await _gather_limited(await _empty_calls(session, url, 200), CONCURRENCY)  # warm-up
        result, _ = await measure("empty view", pid, await _empty_calls(session, url, count))
        return result


async def checkin_phases(server: LiveServer, pid: int, secret: str, hosts: int, repeats: int) -> list[Interleaved]:
    """Each agent request kind, `repeats` times, each time beside the same server's empty view.

    Every repeat sends one request per simulated host (no host is hot from the previous
    request), over keep-alive connections as real agents keep them.
    """
    url = server.url
    now = time.time()
    # Enrollment creates hosts: each repeat enrolls a fresh group; the later phases use them all.
    datas = [HostData(ident, now) for ident in make_identities(hosts * repeats, "mixed", seed=11)]
    connector = aiohttp.TCPConnector(limit=32)
    async with aiohttp.ClientSession(connector=connector) as session:
        await _gather_limited(await _empty_calls(session, url, 400), CONCURRENCY)  # warm-up
        agents = [Agent(session, url, data) for data in datas]
        groups = [agents[i * hosts : (i + 1) * hosts] for i in range(repeats)]
        phases = {name: Interleaved(name) for name in PHASES}
        # Enrollment is measured busy only: it has no target, and paced at PACED_RATE it would not be.
        for group in groups:
            await interleave(phases["osquery enroll"], pid, session, url, [lambda a=a: a.enroll(secret) for a in group])
            await interleave(
                phases["orbit enroll"], pid, session, url, [lambda a=a: a.orbit_enroll(secret) for a in group]
            )
        sample = agents[: hosts * max(1, min(repeats, 3))]
        first_answer = phases["distributed/write (detail results)"]
        for group in groups:
            refetch_all(server)
            await _gather_limited([a.read for a in group], 32)  # the read that hands out detail queries
            writes = _halves([a.write for a in group])
            await interleave(first_answer, pid, session, url, *writes, rate=PACED_WRITE_RATE)
        # Steady state: every host has stored its details and answered its labels: nothing is due.
        await _gather_limited([a.read for a in agents], 32)
        await _gather_limited([a.write for a in agents], 32)
        await _gather_limited([a.config for a in agents], 32)  # the first config stores served intervals
        # The idle polls first, all repeats: in a steady fleet a poll finds its host as the last poll
        # left it. The first repeat follows the writes above (every host changed), so it shows
        # a poll after a change to its host (the spread's upper end); the median, the steady state.
        idle = {
            "osquery config": Agent.config,
            "distributed/read (idle)": Agent.read,
            "orbit config": Agent.orbit_config,
            "orbit ping": Agent.orbit_ping,
            "log (result, 10 rows)": Agent.log,
        }
        for _ in range(repeats):
            for name, request in idle.items():
                calls = [partial(request, a) for a in sample]
                sent = await interleave(phases[name], pid, session, url, calls, calls[:PACED_REQUESTS])
                if request is Agent.read and any(sent):
                    print(f"  note: {sum(1 for n in sent if n)} idle reads still carried queries")
        for _ in range(repeats):
            # fleetd's work: a script waiting for each host, announced by orbit config, then its result.
            # Measured busy only (issue 15's ratios), so each repeat queues one script per host.
            queue_scripts(server, [a.data.ident.hardware_uuid for a in sample])
            configs = [a.orbit_config for a in sample]
            await interleave(phases["orbit config (script pending)"], pid, session, url, configs)
            if not all(a.pending_scripts for a in sample):
                print("  note: some orbit configs announced no pending script")
            await interleave(phases["orbit scripts/result"], pid, session, url, [a.script_result for a in sample])
            # The first poll after a result finds the queue empty and clears the host's stamp, once;
            # the next repeat queues a script again.
            await _gather_limited([a.orbit_config for a in sample], 32)
        # After its first answer, a host's detail writes are the hourly refetch, mostly as last time:
        # its software, users and e-mails unchanged (skipped by their digests), its host row updated.
        for group in groups:
            refetch_all(server)
            await _gather_limited([a.read for a in group], 32)
            writes = _halves([a.write for a in group])
            await interleave(phases[REFETCH_WRITE], pid, session, url, *writes, rate=PACED_WRITE_RATE)
    return list(phases.values())


REFETCH_WRITE = "distributed/write (refetch, unchanged)"


PHASES = (
    "distributed/read (idle)",
    "osquery config",
    "orbit config",
    "orbit ping",
    "log (result, 10 rows)",
    "orbit config (script pending)",
    "orbit scripts/result",
    "distributed/write (detail results)",
    REFETCH_WRITE,
    "osquery enroll",
    "orbit enroll",
)


def queue_scripts(server: LiveServer, uuids: list[str]) -> None:
    """One pending script per host (written directly, outside the measured window), announced as the service does."""
    code = (
        "import uuid; from fleetsite.lib.db import atomic_with_retry; from hosts import upcoming; "
        "from hosts.models import Host; from scripts.models import ScriptExecution; "
        f"ids = sorted(Host.objects.filter(uuid__in={uuids!r}).values_list('id', flat=True)); "
        "atomic_with_retry(lambda: ScriptExecution.objects.bulk_create(ScriptExecution(execution_id=str(uuid.uuid4()), "
        "host_id=i, contents='echo bench') for i in ids)); "
        "upcoming.mark_work_queued(ids)"
    )
    server.manage("shell", "-c", code)


def refetch_all(server: LiveServer) -> None:
    """Ask every host for its details again (as an admin's refetch would), outside the measured window."""
    server.manage("shell", "-c", "from hosts.models import Host; Host.objects.update(refetch_requested=True)")
