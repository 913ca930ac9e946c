"""The single HTTP path every simulated request goes through, so all traffic is timed and counted."""

from __future__ import annotations

import asyncio
import gzip as gzip_mod
import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from agentsim.stats import Stats

_JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


class SimulationStopped(Exception):
    """Raised instead of sending a request once the run is over, so hosts unwind quietly."""


@dataclass(slots=True)
class Response:
    status: int | None  # None means a transport error (connect/reset/timeout)
    data: Any = None  # parsed JSON body, or None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def dumps(payload: Any) -> bytes:
    """Compact JSON, like osquery and orbit send it."""
    return json.dumps(payload, separators=(",", ":")).encode()


class Transport:
    """Wraps the shared aiohttp session; the connection pool limit is the run's concurrency."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, stats: Stats) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.stats = stats
        self.in_flight = 0
        self.stopped = False

    def stop(self) -> None:
        """Refuse new requests; requests already in flight may still finish and be counted."""
        self.stopped = True

    async def drain(self, timeout: float) -> None:
        """Wait (bounded) for in-flight requests so the summary does not count half-finished work."""
        end = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < end:
            await asyncio.sleep(0.05)

    async def request(
        self,
        method: str,
        path: str,
        payload: Any = None,
        headers: dict[str, str] | None = None,
        compress: bool = False,
    ) -> Response:
        """Send one request and record it under ``path``; never raises for HTTP or network failures."""
        if self.stopped:
            raise SimulationStopped
        hdrs = dict(_JSON_HEADERS)
        if headers:
            hdrs.update(headers)
        body = None
        if payload is not None:
            body = dumps(payload)
            if compress:
                body = gzip_mod.compress(body, compresslevel=5)
                hdrs["Content-Encoding"] = "gzip"
        self.in_flight += 1
        start = time.perf_counter()
        try:
            async with self.session.request(method, self.base_url + path, data=body, headers=hdrs) as resp:
                raw = await resp.read()
                status = resp.status
        except asyncio.CancelledError:
            raise
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            elapsed = time.perf_counter() - start
            self.stats.record(path, elapsed, None, f"{method} {path}: {type(exc).__name__}: {exc}"[:300])
            return Response(None)
        finally:
            self.in_flight -= 1
        elapsed = time.perf_counter() - start
        data = None
        if raw:
            try:
                data = json.loads(raw)
            except ValueError:
                data = None
        if 200 <= status < 300:
            self.stats.record(path, elapsed, status)
        else:
            text = raw[:200].decode("utf-8", "replace")
            self.stats.record(path, elapsed, status, f"{method} {path}: HTTP {status} {text}")
        return Response(status, data)

    def protocol_error(self, path: str, message: str) -> None:
        """Count a 2xx answer that real agents could not use (missing key, wrong type) as an error."""
        self.stats.record_protocol_error(path, message)
