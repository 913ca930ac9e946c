"""Request accounting and the end-of-run summary (text and JSON)."""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_SAMPLES = 20  # error strings kept for the summary
RESERVOIR = 100_000  # latency samples kept per endpoint (reservoir sampling beyond that)


@dataclass(slots=True)
class Counters:
    """What the simulated agents did, beyond raw request counts."""

    orbit_enrolls: int = 0
    orbit_reenrolls: int = 0
    osquery_enrolls: int = 0
    osquery_reenrolls: int = 0
    distributed_writes: int = 0
    distributed_answers: int = 0
    distributed_rows: int = 0
    result_log_entries: int = 0
    status_log_entries: int = 0
    scripts_run: int = 0
    installs_run: int = 0


class Stats:
    """Per-endpoint counts, error codes and latency samples, bounded in memory for long runs."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.error_codes: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.samples: list[str] = []
        self._latency: defaultdict[str, list[float]] = defaultdict(list)
        self._rng = random.Random(0)

    def record(self, endpoint: str, seconds: float, status: int | None, error: str | None = None) -> None:
        """Count one request; ``status`` None is a transport error. Non-2xx and transport errors are errors."""
        n = self.requests[endpoint] = self.requests[endpoint] + 1
        samples = self._latency[endpoint]
        if len(samples) < RESERVOIR:
            samples.append(seconds)
        else:
            j = self._rng.randrange(n)
            if j < RESERVOIR:
                samples[j] = seconds
        if status is None or not 200 <= status < 300:
            self._error(endpoint, "transport" if status is None else str(status), error)

    def record_protocol_error(self, endpoint: str, message: str) -> None:
        """A 2xx answer the agent could not use (e.g. enroll without node_key)."""
        self._error(endpoint, "invalid_response", f"{endpoint}: {message}")

    def record_internal(self, message: str) -> None:
        """A bug in the simulator itself: counted so it cannot go unnoticed."""
        self._error("agentsim", "exception", message)

    def _error(self, endpoint: str, code: str, message: str | None) -> None:
        self.errors[endpoint] += 1
        self.error_codes[endpoint][code] += 1
        if message and len(self.samples) < MAX_SAMPLES:
            self.samples.append(message)

    def latency_ms(self) -> dict[str, tuple[float, float]]:
        out = {}
        for endpoint, samples in self._latency.items():
            ordered = sorted(samples)
            out[endpoint] = (round(_percentile(ordered, 0.50) * 1000, 2), round(_percentile(ordered, 0.95) * 1000, 2))
        return out


def _percentile(ordered: list[float], p: float) -> float:
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


@dataclass
class Summary:
    """Result of a run; ``ok`` is False if any request failed."""

    hosts: int = 0
    platform: str = "linux"
    duration_s: float = 0.0
    requests: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_codes: dict[str, dict[str, int]] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    latency_ms: dict[str, tuple[float, float]] = field(default_factory=dict)
    hosts_enrolled: int = 0
    orbit_enrolled: int = 0
    results: dict[str, int] = field(default_factory=dict)
    loop_lag_ms: dict[str, float] = field(default_factory=dict)  # p50/p95/max; high = simulator overloaded

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def total_errors(self) -> int:
        return sum(self.errors.values())

    @property
    def ok(self) -> bool:
        return self.total_errors == 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["latency_ms"] = {k: {"p50": v[0], "p95": v[1]} for k, v in self.latency_ms.items()}
        data.update(total_requests=self.total_requests, total_errors=self.total_errors, ok=self.ok)
        return data

    def format(self) -> str:
        """Human-readable table for the CLI."""
        lines = [
            (
                f"agentsim: {self.hosts} hosts ({self.platform}) for {self.duration_s:.1f}s; "
                f"orbit enrolled {self.orbit_enrolled}, osquery enrolled {self.hosts_enrolled}"
            ),
            f"{'endpoint':<36} {'requests':>9} {'errors':>7} {'p50 ms':>9} {'p95 ms':>9}  error codes",
        ]
        endpoints = sorted(set(self.requests) | set(self.errors))
        for ep in endpoints:
            p50, p95 = self.latency_ms.get(ep, (0.0, 0.0))
            codes = ", ".join(f"{c}={n}" for c, n in sorted(self.error_codes.get(ep, {}).items()))
            lines.append(
                f"{ep:<36} {self.requests.get(ep, 0):>9} {self.errors.get(ep, 0):>7} {p50:>9.1f} {p95:>9.1f}  {codes}"
            )
        rate = self.total_requests / self.duration_s if self.duration_s else 0.0
        lines.append(f"{'total':<36} {self.total_requests:>9} {self.total_errors:>7}  ({rate:.1f} req/s)")
        lines.append("results: " + ", ".join(f"{k}={v}" for k, v in self.results.items()))
        if self.loop_lag_ms:
            lag = ", ".join(f"{k} {v:.1f} ms" for k, v in self.loop_lag_ms.items())
            lines.append(f"simulator event-loop lag: {lag} (high values mean agentsim itself is the bottleneck)")
        if self.error_samples:
            lines.append("error samples:")
            lines.extend(f"  {s}" for s in self.error_samples)
        lines.append("OK" if self.ok else f"FAILED: {self.total_errors} errors")
        return "\n".join(lines)


def lag_summary(lags: list[float]) -> dict[str, float]:
    """p50/p95/max of event-loop lag samples (seconds in, milliseconds out)."""
    ordered = sorted(lags)
    if not ordered:
        return {}
    return {
        "p50": round(_percentile(ordered, 0.5) * 1000, 2),
        "p95": round(_percentile(ordered, 0.95) * 1000, 2),
        "max": round(ordered[-1] * 1000, 2),
    }


def build_summary(
    stats: Stats,
    counters: Counters,
    hosts: int,
    platform: str,
    duration_s: float,
    enrolled: int,
    orbit_enrolled: int,
    lags: list[float] | None = None,
) -> Summary:
    """Freeze live accounting into a plain Summary."""
    return Summary(
        hosts=hosts,
        platform=platform,
        duration_s=round(duration_s, 3),
        requests=dict(sorted(stats.requests.items())),
        errors=dict(sorted(stats.errors.items())),
        error_codes={k: dict(v) for k, v in sorted(stats.error_codes.items())},
        error_samples=list(stats.samples),
        latency_ms=dict(sorted(stats.latency_ms().items())),
        hosts_enrolled=enrolled,
        orbit_enrolled=orbit_enrolled,
        results=asdict(counters),
        loop_lag_ms=lag_summary(lags or []),
    )
