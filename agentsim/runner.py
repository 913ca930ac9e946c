"""Run a simulated fleet: one shared aiohttp session, one pair of tasks per host, a summary at the end."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from typing import Any

import aiohttp

from agentsim.fleetd_work import OUTCOMES
from agentsim.host import Host, Settings
from agentsim.identity import PLATFORM_CHOICES, make_identities
from agentsim.stats import Counters, Stats, Summary, build_summary
from agentsim.transport import Transport

DEFAULT_OPTIONS: dict[str, Any] = {
    "concurrency": 64,  # size of the shared connection pool
    "insecure": False,  # skip TLS verification (self-signed certs)
    "ca_file": None,  # PEM bundle to verify the server against instead of the system's CAs
    "seed": None,  # reproducible identities
    "ramp": None,  # stagger host start over this many seconds; default min(10, duration / 4)
    "gzip": False,  # gzip-compress /log bodies
    "timeout": 30.0,  # per-request connect/read timeout
    "grace": 5.0,  # how long in-flight requests may finish after the duration
    "orbit_config_interval": 30.0,
    "config_refresh": 60.0,  # used until the osquery config sets options.config_refresh
    "status_log_interval": 300.0,
    "token_rotation_interval": 3600.0,
    "retry_base": 1.0,
    "retry_max": 60.0,
    "script_outcome": "ok",  # what scripts without an agentsim: marker do: ok, fail or timeout
    "stop_event": None,  # an asyncio.Event that ends the run early (e.g. on SIGINT)
}


async def run(
    url: str,
    enroll_secret: str,
    hosts: int,
    platform: str = "linux",
    duration: float = 60.0,
    **options: Any,
) -> Summary:
    """Simulate ``hosts`` fleetd agents against ``url`` for ``duration`` seconds and summarise the traffic.

    Options (see ``DEFAULT_OPTIONS``): concurrency, insecure, ca_file, seed, ramp, gzip, timeout, grace,
    orbit_config_interval, config_refresh, status_log_interval, token_rotation_interval, retry_base,
    retry_max, script_outcome, stop_event.
    """
    unknown = set(options) - set(DEFAULT_OPTIONS)
    if unknown:
        raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
    if platform not in PLATFORM_CHOICES:
        raise ValueError(f"platform must be one of {PLATFORM_CHOICES}")
    if hosts < 1:
        raise ValueError("hosts must be >= 1")
    if options.get("script_outcome", "ok") not in OUTCOMES:
        raise ValueError(f"script_outcome must be one of {OUTCOMES}")
    opts = {**DEFAULT_OPTIONS, **options}
    settings = Settings(
        enroll_secret=enroll_secret,
        gzip=bool(opts["gzip"]),
        orbit_config_interval=float(opts["orbit_config_interval"]),
        config_refresh=float(opts["config_refresh"]),
        status_log_interval=float(opts["status_log_interval"]),
        token_rotation_interval=float(opts["token_rotation_interval"]),
        retry_base=float(opts["retry_base"]),
        retry_max=float(opts["retry_max"]),
        script_outcome=str(opts["script_outcome"]),
    )
    ramp = min(10.0, duration / 4) if opts["ramp"] is None else max(0.0, float(opts["ramp"]))
    identities = make_identities(hosts, platform, opts["seed"])
    stats, counters = Stats(), Counters()

    connector = aiohttp.TCPConnector(
        limit=max(1, int(opts["concurrency"])),
        limit_per_host=0,
        ssl=_ssl_option(bool(opts["insecure"]), opts["ca_file"]),
        ttl_dns_cache=300,
    )
    # No total timeout: waiting for a pooled connection is queueing, not a server failure.
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=opts["timeout"], sock_read=opts["timeout"])
    started = time.monotonic()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=True) as session:
        transport = Transport(session, url, stats)
        sims = [
            Host(ident, settings, transport, counters, start_delay=ramp * n / hosts)
            for n, ident in enumerate(identities)
        ]
        tasks = [task for sim in sims for task in sim.start()]
        lags: list[float] = []
        tasks.append(asyncio.create_task(_measure_lag(lags)))
        await _wait_for_end(duration, opts["stop_event"])
        transport.stop()
        await transport.drain(float(opts["grace"]))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    elapsed = time.monotonic() - started
    return build_summary(
        stats,
        counters,
        hosts,
        platform,
        elapsed,
        enrolled=sum(s.osquery_enrolled for s in sims),
        orbit_enrolled=sum(s.orbit_enrolled for s in sims),
        lags=lags,
    )


async def _measure_lag(lags: list[float], period: float = 0.1) -> None:
    """Sample how late the event loop wakes us: if this grows, agentsim cannot keep its own schedule."""
    loop = asyncio.get_running_loop()
    while True:
        start = loop.time()
        await asyncio.sleep(period)
        lags.append(max(0.0, loop.time() - start - period))
        if len(lags) > 100_000:
            del lags[:50_000]


async def _wait_for_end(duration: float, stop_event: asyncio.Event | None) -> None:
    if stop_event is None:
        await asyncio.sleep(duration)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop_event.wait(), timeout=duration)


def _ssl_option(insecure: bool, ca_file: str | None) -> bool | ssl.SSLContext:
    """aiohttp's `ssl`: off, the system's CAs, or (as osquery's --tls_server_certs) only `ca_file`'s."""
    if insecure:
        return False
    if ca_file:
        return ssl.create_default_context(cafile=ca_file)
    return True
