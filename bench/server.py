"""The server every bench measures: `manage.py serve` with the bench's empty view and production's flushes."""

from __future__ import annotations

from pathlib import Path

from fleetsite.liveserver import LiveServer, drop_isolated_database, isolated_database_url


def bench_server(database_url: str, redis_url: str, data_dir: Path, suffix: str, workers: int = 1) -> LiveServer:
    """A LiveServer on its own (recreated) database `<name>_<suffix>`, not started.

    Seen times and report rows flush every 2 s as in production, not every 0.5 s as in the tests.
    """
    return LiveServer(
        data_dir=data_dir / "serve",
        database_url=isolated_database_url(database_url, data_dir, suffix=suffix),
        redis_url=redis_url,
        workers=workers,
        extra_env={"DJANGO_SETTINGS_MODULE": "bench.settings", "LOG_LEVEL": "WARNING",
                   "FLEETSITE_SEEN_FLUSH_INTERVAL": "2", "FLEETSITE_REPORT_FLUSH_INTERVAL": "2"},
    )  # fmt: skip


def stop_and_drop(server: LiveServer) -> None:
    """Stop the server, then drop its database: the next run recreates it anyway (1.3 GB at a million hosts)."""
    server.stop()
    drop_isolated_database(server.database_url)
