"""`manage.py serve`: the whole app, HTTP and websockets, on one port."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from fleetsite.guarded_http import GuardedHttpToolsProtocol
from fleetsite.lib.publicurl import server_url_parts
from fleetsite.lib.selfsigned import ensure_certificate
from fleetsite.servercert import SERVED_CERT_ENV


def _exit_cleanly(signum: int, frame: object) -> None:
    sys.exit(0)


def _logs_requests(level: str) -> bool:
    """Whether uvicorn at `level` prints its access lines (INFO and below)."""
    return level.lower() in ("trace", "debug", "info")


class Command(BaseCommand):
    help = "Serve Fleetsite (agents, REST, UI and websockets) on one port; stops cleanly on SIGTERM."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8080)
        parser.add_argument("--workers", type=int, default=1, help="worker processes (more than 1 needs REDIS_URL)")
        parser.add_argument(
            "--tls", action="store_true", help="serve https; without --cert, a self-signed one for FLEETSITE_TLS_NAMES"
        )
        parser.add_argument("--cert", help="PEM certificate (chain) for --tls")
        parser.add_argument("--key", help="PEM private key for --tls")
        parser.add_argument("--log-level", default="warning")

    def handle(self, *args: Any, **options: Any) -> None:
        workers = options["workers"]
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        if workers > 1 and not settings.REDIS_URL:
            raise CommandError(
                "--workers above 1 needs REDIS_URL: without Redis each process has its own cache and channel layer"
            )
        ssl: dict[str, str] = {}
        if options["tls"] or options["cert"] or options["key"] or settings.FLEETSITE_TLS_CERT:
            ssl = self._tls_files(options)
        if workers > 1:
            self._prepare_multiprocess_metrics()
        # uvicorn shuts down gracefully, then re-raises the signal it caught; reaching this handler
        # means the shutdown finished, so the process exits 0 as service managers expect.
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stop_signal, _exit_cleanly)
        if not settings.REDIS_URL:
            # No broker, so no beat or worker processes: run the schedule in this process.
            from fleetsite.scheduler import InProcessScheduler

            InProcessScheduler().start()
        scheme = "https" if ssl else "http"
        self.stdout.write(f"Fleetsite serving on {scheme}://{options['host']}:{options['port']} ({workers} worker(s))")
        uvicorn.run(
            "fleetsite.asgi:combined",
            host=options["host"],
            port=options["port"],
            workers=workers,
            log_level=options["log_level"],
            # uvicorn builds each request's access line before its logger drops it: 3% of the
            # server's CPU in the paced soak's profile. Off unless the level prints it.
            access_log=_logs_requests(options["log_level"]),
            lifespan="on",
            http=GuardedHttpToolsProtocol,  # header/body timeouts, per-address cap (issue 12 finding 8)
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=10,
            ws_max_size=8096,  # fleet-protocol §4.5
            **ssl,
        )

    def _tls_files(self, options: dict[str, Any]) -> dict[str, str]:
        """The operator's chain and key (flags, else FLEETSITE_TLS_CERT/KEY), or a generated one.

        The generated certificate covers the server URL's host, FLEETSITE_TLS_NAMES and the
        --host address besides localhost; its path goes to worker processes through the
        environment, so /config/certificate and "Add hosts" hand out the chain being served.
        """
        cert = options["cert"] or settings.FLEETSITE_TLS_CERT
        key = options["key"] or settings.FLEETSITE_TLS_KEY
        if bool(cert) != bool(key):
            raise CommandError("--cert and --key go together (or FLEETSITE_TLS_CERT and FLEETSITE_TLS_KEY)")
        if not cert:
            public = server_url_parts(settings.FLEETSITE_SERVER_URL)
            names = [public.hostname if public else "", *settings.FLEETSITE_TLS_NAMES, options["host"]]
            cert_path, key_path = ensure_certificate(Path(settings.DATA_DIR) / "tls", names)
            self.stdout.write(
                f"Using the self-signed certificate {cert_path} (give it to agents as --tls_server_certs)"
            )
            cert, key = str(cert_path), str(key_path)
        for path in (cert, key):
            if not Path(path).is_file():
                raise CommandError(f"no such file: {path}")
        os.environ[SERVED_CERT_ENV] = str(Path(cert).resolve())
        return {"ssl_certfile": cert, "ssl_keyfile": key}

    def _prepare_multiprocess_metrics(self) -> None:
        """Worker processes write metrics to a shared directory that /metrics merges."""
        directory = Path(settings.DATA_DIR) / "prometheus"
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
