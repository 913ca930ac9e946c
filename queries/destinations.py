"""Where osquery result and status logs go (fleet-protocol §1.3: Fleet's default is the filesystem).

Settings pick the destinations per log type (`FLEETSITE_RESULT_LOG_DESTINATIONS`,
`FLEETSITE_STATUS_LOG_DESTINATIONS`, comma lists):

* `filesystem`: JSON lines under `FLEETSITE_LOG_DIR` (default `<data dir>/logs`), rotated when a
  file passes `FLEETSITE_LOG_ROTATE_MB`, keeping `FLEETSITE_LOG_KEEP` old files. Several server
  processes may append to the same file: a file lock keeps lines and rotations whole.
* `stdout`: JSON lines on standard output, for container log collectors.
* `webhook`: batches POSTed to `FLEETSITE_LOG_WEBHOOK_URL` from a background thread, so an agent
  request never waits on the network. The buffer is bounded (oldest entries are dropped when the
  receiver is down for long) and failed posts are retried with backoff.

A filesystem or stdout failure is raised, so osquery keeps the lines and sends them again.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import orjson
from django.conf import settings

logger = logging.getLogger(__name__)

KINDS = ("filesystem", "stdout", "webhook")
FILE_NAMES = {"result": "osqueryd.results.log", "status": "osqueryd.status.log"}


class Destination(Protocol):
    def write(self, log_type: str, entries: list[Any]) -> None: ...


def _lines(entries: list[Any]) -> bytes:
    """JSON lines; an entry nested too deep to write (over 255 levels) is logged and left out, not a 500."""
    lines = []
    for entry in entries:
        try:
            lines.append(orjson.dumps(entry) + b"\n")
        except orjson.JSONEncodeError as exc:
            logger.warning("dropping a log entry that cannot be written as JSON: %s", exc)
    return b"".join(lines)


# --- Filesystem --------------------------------------------------------------------------------


# Directories made (or found) already, and the lock file kept open per log file: each log request
# paid a mkdir and an open/close of the lock file, a sixth of its CPU (docs/profiles/README.md).
_made_dirs: set[Path] = set()
_lock_files: dict[str, Any] = {}


def log_dir() -> Path:
    directory = Path(getattr(settings, "FLEETSITE_LOG_DIR", "") or Path(settings.DATA_DIR) / "logs")
    if directory not in _made_dirs:
        directory.mkdir(parents=True, exist_ok=True)
        _made_dirs.add(directory)
    return directory


def log_path(log_type: str) -> Path:
    return log_dir() / FILE_NAMES["result" if log_type == "result" else "status"]


class FilesystemDestination:
    """Appends JSON lines; rotates `name` → `name.1` → … → `name.<keep>` when the file grows too big."""

    _lock = threading.Lock()

    def write(self, log_type: str, entries: list[Any]) -> None:
        payload = _lines(entries)
        try:
            self._append(log_path(log_type), payload)
        except FileNotFoundError:  # the directory went away since it was made: make it again
            _made_dirs.clear()
            self._append(log_path(log_type), payload)

    def _append(self, path: Path, payload: bytes) -> None:
        max_bytes = int(float(getattr(settings, "FLEETSITE_LOG_ROTATE_MB", 0)) * 1024 * 1024)
        keep = int(getattr(settings, "FLEETSITE_LOG_KEEP", 5))
        with self._lock, _file_lock(path):
            if max_bytes > 0:
                with contextlib.suppress(FileNotFoundError):
                    size = path.stat().st_size
                    if size > 0 and size + len(payload) > max_bytes:
                        _rotate(path, keep)
            # One write call per batch keeps another process's lines from interleaving.
            with path.open("ab") as handle:
                handle.write(payload)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock shared by every process writing `path` (rotation renames the file itself)."""
    name = f"{path}.lock"
    handle = _lock_files.get(name)
    if handle is None or os.fstat(handle.fileno()).st_nlink == 0:  # first use, or the lock file was removed
        if handle is not None:
            handle.close()
        handle = _lock_files[name] = open(name, "a")  # noqa: SIM115 - kept open for the next write
    fcntl.flock(handle, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)


def _rotate(path: Path, keep: int) -> None:
    if keep < 1:
        path.unlink(missing_ok=True)
        return
    Path(f"{path}.{keep}").unlink(missing_ok=True)
    for number in range(keep - 1, 0, -1):
        older = Path(f"{path}.{number}")
        if older.exists():
            older.rename(f"{path}.{number + 1}")
    path.rename(f"{path}.1")


# --- Stdout ------------------------------------------------------------------------------------


class StdoutDestination:
    _lock = threading.Lock()

    def write(self, log_type: str, entries: list[Any]) -> None:
        payload = _lines(entries)
        with self._lock:
            stream = getattr(sys.stdout, "buffer", None)
            if stream is not None:
                stream.write(payload)
            else:  # a replaced text stream (tests, some process managers)
                sys.stdout.write(payload.decode())
            sys.stdout.flush()


# --- Webhook -----------------------------------------------------------------------------------


class WebhookDestination:
    """Buffers entries and POSTs `{"log_type", "data": [...]}` batches from one background thread."""

    def __init__(
        self,
        url: str,
        log_type: str,
        batch_size: int = 500,
        buffer_size: int = 50_000,
        flush_seconds: float = 1.0,
        timeout: float = 10.0,
        retries: int = 5,
        backoff: float = 0.5,
    ) -> None:
        self.url, self.log_type = url, log_type
        self.batch_size, self.flush_seconds, self.timeout = batch_size, flush_seconds, timeout
        self.retries, self.backoff = retries, backoff
        self.buffer: deque[Any] = deque(maxlen=buffer_size)
        self.dropped = 0  # entries lost to a full buffer or exhausted retries
        self.sent = 0
        self._cond = threading.Condition()
        self._in_flight = 0
        self._thread: threading.Thread | None = None
        self._pid = 0

    def write(self, log_type: str, entries: list[Any]) -> None:
        """Queue entries and return at once; never raises for network trouble."""
        with self._cond:
            overflow = len(self.buffer) + len(entries) - (self.buffer.maxlen or 0)
            if overflow > 0:
                self.dropped += overflow
                logger.warning("log webhook buffer full: dropping %d oldest %s entries", overflow, self.log_type)
            self.buffer.extend(entries)
            self._ensure_thread()
            if len(self.buffer) >= self.batch_size:
                self._cond.notify()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far was posted or given up on (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.notify()
            while self.buffer or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True

    def _ensure_thread(self) -> None:
        # After a fork the parent's thread does not exist in the child: start one per process.
        if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name=f"log-webhook-{self.log_type}", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self.buffer:
                    self._cond.wait(self.flush_seconds)
                if len(self.buffer) < self.batch_size:
                    # Give a trickle a moment to become a batch, but never more than flush_seconds.
                    self._cond.wait_for(lambda: len(self.buffer) >= self.batch_size, self.flush_seconds / 10)
                batch = [self.buffer.popleft() for _ in range(min(self.batch_size, len(self.buffer)))]
                self._in_flight = len(batch)
            if batch:
                self._post(batch)
            with self._cond:
                self._in_flight = 0
                self._cond.notify_all()

    def _post(self, batch: list[Any]) -> None:
        body = orjson.dumps({"log_type": self.log_type, "data": batch})
        delay = self.backoff
        for attempt in range(1, self.retries + 1):
            request = urllib.request.Request(
                self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - admin's URL
                    response.read()
                self.sent += len(batch)
                return
            except (urllib.error.URLError, OSError, ValueError) as exc:
                if attempt == self.retries:
                    self.dropped += len(batch)
                    logger.error(
                        "log webhook %s failed %d times, dropping %d entries: %s", self.url, attempt, len(batch), exc
                    )
                    return
                time.sleep(delay)
                delay = min(delay * 2, 30.0)


# --- Choosing destinations ---------------------------------------------------------------------

_registry: dict[tuple, Destination] = {}
_registry_lock = threading.Lock()


def _setting_kinds(log_type: str) -> list[str]:
    name = "FLEETSITE_RESULT_LOG_DESTINATIONS" if log_type == "result" else "FLEETSITE_STATUS_LOG_DESTINATIONS"
    kinds = getattr(settings, name, None) or ["filesystem"]
    # Durable destinations first: if one fails, osquery resends and the webhook has not queued yet.
    return sorted(dict.fromkeys(kinds), key=lambda kind: kind == "webhook")


def _make(kind: str, log_type: str) -> Destination:
    if kind == "filesystem":
        return FilesystemDestination()
    if kind == "stdout":
        return StdoutDestination()
    if kind == "webhook":
        webhook = WebhookDestination(
            settings.FLEETSITE_LOG_WEBHOOK_URL,
            log_type,
            batch_size=getattr(settings, "FLEETSITE_LOG_WEBHOOK_BATCH", 500),
            buffer_size=getattr(settings, "FLEETSITE_LOG_WEBHOOK_BUFFER", 50_000),
        )
        # A clean shutdown posts what is still buffered (briefly: a dead receiver must not hang exit).
        atexit.register(webhook.flush, 5.0)
        return webhook
    raise ValueError(f"unknown log destination {kind!r}; expected one of {', '.join(KINDS)}")


def destinations_for(log_type: str) -> list[Destination]:
    """The destinations of `log_type`, built once per configuration (the webhook keeps its thread)."""
    found = []
    for kind in _setting_kinds(log_type):
        key = (kind, log_type, getattr(settings, "FLEETSITE_LOG_WEBHOOK_URL", "") if kind == "webhook" else "")
        destination = _registry.get(key)
        if destination is None:
            with _registry_lock:
                destination = _registry.setdefault(key, _make(kind, log_type))
        found.append(destination)
    return found


def write(log_type: str, entries: list[Any]) -> None:
    """Send one `log` request's entries to every destination configured for `log_type`."""
    if not entries:
        return
    for destination in destinations_for(log_type):
        destination.write(log_type, entries)


def flush(timeout: float = 10.0) -> bool:
    """Wait for every webhook buffer to drain."""
    return all(d.flush(timeout) for d in list(_registry.values()) if isinstance(d, WebhookDestination))
