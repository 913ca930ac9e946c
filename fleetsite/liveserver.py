"""Start a real Fleetsite server process, for end-to-end tests and `make bench`.

It gets its own data directory and its own database (a SQLite file, or a fresh `<name>_e2e`
database beside the MySQL or PostgreSQL one DATABASE_URL names), so it never touches the caller's data.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mysql_server(database_url: str) -> Any:
    """A connection to the MySQL server of `database_url`, without choosing a database (to create or drop one)."""
    import MySQLdb

    parts = urlsplit(database_url)
    return MySQLdb.connect(
        host=parts.hostname or "127.0.0.1", port=parts.port or 3306, user=parts.username or "root",
        passwd=parts.password or "",
    )  # fmt: skip


_POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql")


def _is_postgres(database_url: str) -> bool:
    return database_url.split(":", 1)[0] in _POSTGRES_SCHEMES


def _postgres_server(database_url: str) -> Any:
    """An autocommit connection to the PostgreSQL server of `database_url`, on its `postgres` database."""
    import psycopg

    parts = urlsplit(database_url)
    return psycopg.connect(
        host=parts.hostname or "127.0.0.1", port=parts.port or 5432, user=parts.username or "postgres",
        password=parts.password or "", dbname="postgres", autocommit=True,
    )  # fmt: skip


def _on_server(database_url: str, statements: list[str]) -> None:
    """Run `statements` on the MySQL or PostgreSQL server of `database_url`, outside any database of it."""
    if _is_postgres(database_url):
        with _postgres_server(database_url) as connection:
            for statement in statements:
                connection.execute(statement)
        return
    connection = mysql_server(database_url)
    try:
        cursor = connection.cursor()
        for statement in statements:
            cursor.execute(statement)
    finally:
        connection.close()


def _drop_statement(database_url: str, name: str) -> str:
    if _is_postgres(database_url):
        return f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    return f"DROP DATABASE IF EXISTS `{name}`"


def _has_server(database_url: str) -> bool:
    """Whether the URL names a database server (MySQL or PostgreSQL) rather than a SQLite file."""
    return database_url.startswith("mysql") or _is_postgres(database_url)


def isolated_database_url(base_url: str, data_dir: Path, suffix: str = "e2e") -> str:
    """A database for the server alone: a SQLite file, or a recreated MySQL or PostgreSQL database.

    Named after the base database, `suffix` and the pytest-xdist worker, so that two workers running
    tests with the same suffix never recreate each other's database.
    """
    if not _has_server(base_url):
        return f"sqlite:///{data_dir / 'server.sqlite3'}"
    parts = urlsplit(base_url)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    name = f"{parts.path.lstrip('/') or 'fleetsite'}_{suffix}" + (f"_{worker}" if worker else "")
    create = (
        f'CREATE DATABASE "{name}"'
        if _is_postgres(base_url)
        else f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    )
    _on_server(base_url, [_drop_statement(base_url, name), create])
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def drop_isolated_database(database_url: str) -> None:
    """Drop a database `isolated_database_url` made, once nothing uses it (a SQLite file goes with its folder).

    A bench's database holds a million hosts (about 1.3 GB); left behind, each run's copy waits
    for the next run to recreate it.
    """
    if _has_server(database_url):
        _on_server(database_url, [_drop_statement(database_url, urlsplit(database_url).path.lstrip("/"))])


@dataclass
class LiveServer:
    """A `manage.py serve` child process with its own data directory and database."""

    data_dir: Path
    database_url: str = ""
    redis_url: str = ""
    port: int = field(default_factory=free_port)
    tls: bool = False
    workers: int = 1
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
        env.update(
            DJANGO_SETTINGS_MODULE="fleetsite.settings",
            FLEETSITE_DATA_DIR=str(self.data_dir),
            DATABASE_URL=self.database_url or f"sqlite:///{self.data_dir / 'server.sqlite3'}",
            FLEETSITE_SEEN_FLUSH_INTERVAL="0.5",
            # Tests read a report right after the log request that filled it.
            FLEETSITE_REPORT_FLUSH_INTERVAL="0",
        )
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
            # Servers on one database are one installation; other tests' servers share the Redis
            # and would otherwise read this one's cached campaign lists and channel groups.
            installation = hashlib.sha256(env["DATABASE_URL"].encode()).hexdigest()[:12]
            env["FLEETSITE_REDIS_PREFIX"] = f"live-{installation}"
        env.update(self.extra_env)
        return env

    def manage(self, *args: str) -> str:
        """Run a management command against the server's database; returns its stdout."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def prepare(self, email: str, password: str) -> str:
        """Migrate, create a global admin and an enroll secret before the server starts; returns the secret."""
        self.extra_env.update(DJANGO_SUPERUSER_EMAIL=email, DJANGO_SUPERUSER_PASSWORD=password)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.manage("migrate", "--noinput")
        self.manage("createsuperuser", "--noinput")
        return self.manage("enroll_secret", "add").strip()

    def start(self, timeout: float = 30.0) -> LiveServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.manage("migrate", "--noinput")
        command = [sys.executable, "manage.py", "serve", "--port", str(self.port), "--workers", str(self.workers)]
        if self.tls:
            command.append("--tls")
        log = (self.data_dir / "server.log").open("wb")
        self.process = subprocess.Popen(command, cwd=BASE_DIR, env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        import ssl

        context = ssl._create_unverified_context() if self.tls else None  # the self-signed certificate
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1, context=context) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
        raise RuntimeError(f"server did not become healthy in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        path = self.data_dir / "server.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, as a service manager would; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
