"""A private `redis-server` on a free loopback port, for tests that take Redis away.

The shared Redis (6379) serves every engineer's run and must never be stopped; these tests
start their own and stop it to simulate an outage. Its data is kept in an append-only file,
so a restart brings back what was stored before, as a Redis that only lost its network would.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from fleetsite.lib.cachesettings import redis_caches
from fleetsite.liveserver import free_port

REDIS_SERVER = shutil.which("redis-server")


def require_redis_server() -> None:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed: the Redis outage tests start their own")


class RedisProcess:
    """`start()`, `stop()` and `start()` again on the same port and data."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        assert REDIS_SERVER is not None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # fmt: off
        command = [
            REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "yes", "--dir", str(self.data_dir), "--daemonize", "no", "--loglevel", "warning",
        ]
        # fmt: on
        log = (self.data_dir / "redis.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._answers():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def cache_settings(self, prefix: str) -> dict[str, Any]:
        """CACHES as settings.py builds them for REDIS_URL, pointed at this server."""
        return redis_caches(self.url, prefix)

    def channel_layer_settings(self, prefix: str) -> dict[str, Any]:
        return {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [{"address": self.url, "socket_timeout": None}], "prefix": prefix},
            }
        }
