"""CLI: ``python -m agentsim --url URL --enroll-secret S --hosts N ...``; exit status 1 if any request failed."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys

from agentsim.fleetd_work import OUTCOMES
from agentsim.identity import PLATFORM_CHOICES
from agentsim.runner import run
from agentsim.stats import Summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m agentsim", description="Simulate fleetd agents (orbit + osqueryd).")
    p.add_argument("--url", required=True, help="Fleet server base URL, e.g. https://127.0.0.1:8080")
    p.add_argument("--enroll-secret", required=True)
    p.add_argument("--hosts", type=int, required=True, help="number of simulated hosts")
    p.add_argument(
        "--platform", choices=PLATFORM_CHOICES, default="linux", help="mixed = 50%% linux, 30%% darwin, 20%% windows"
    )
    p.add_argument("--duration", type=float, default=60.0, help="seconds to run (default 60)")
    p.add_argument("--concurrency", type=int, default=64, help="HTTP connection pool size (default 64)")
    p.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    p.add_argument("--ca-file", metavar="PEM", help="trust only these CA certificates (osquery's --tls_server_certs)")
    p.add_argument("--seed", type=int, default=None, help="make host identities reproducible")
    p.add_argument(
        "--ramp",
        type=float,
        default=None,
        help="spread host start-up over this many seconds (default min(10, duration/4))",
    )
    p.add_argument("--gzip", action="store_true", help="gzip /api/v1/osquery/log bodies")
    p.add_argument(
        "--script-outcome",
        choices=OUTCOMES,
        default="ok",
        help="what scripts and installs without an agentsim:fail/agentsim:timeout marker do (never executed)",
    )
    p.add_argument("--timeout", type=float, default=30.0, help="per-request connect/read timeout")
    p.add_argument("--report-json", metavar="FILE", help="also write the summary as JSON")
    p.add_argument("--allow-errors", action="store_true", help="exit 0 even if requests failed")
    args = p.parse_args(argv)
    if args.hosts < 1:
        p.error("--hosts must be >= 1")
    if args.concurrency < 1:
        p.error("--concurrency must be >= 1")
    return args


async def _main(args: argparse.Namespace) -> Summary:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # e.g. Windows has no signal handlers
            loop.add_signal_handler(sig, stop.set)
    return await run(
        args.url,
        args.enroll_secret,
        args.hosts,
        platform=args.platform,
        duration=args.duration,
        concurrency=args.concurrency,
        insecure=args.insecure,
        ca_file=args.ca_file,
        seed=args.seed,
        ramp=args.ramp,
        gzip=args.gzip,
        timeout=args.timeout,
        script_outcome=args.script_outcome,
        stop_event=stop,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the simulation, print the summary, and return the process exit status."""
    args = parse_args(argv)
    summary = asyncio.run(_main(args))
    print(summary.format())
    if args.report_json:
        with open(args.report_json, "w", encoding="utf-8") as fh:
            json.dump(summary.to_dict(), fh, indent=2)
    return 0 if summary.ok or args.allow_errors else 1


if __name__ == "__main__":
    sys.exit(main())
