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


# Directories made (or found) already: each log request paid a mkdir (docs/profiles/README.md).
_made_dirs: set[Path] = set()
# The log file's path per (FLEETSITE_LOG_DIR, log type): pathlib's joins cost more than the write.
_paths: dict[tuple[str, str], Path] = {}

# How often a writer checks that its open file is still the one at the path: another process may
# have rotated it. Lines written in between land, whole, at the end of the rotated file.
RECHECK_SECONDS = 1.0


def log_dir() -> Path:
    directory = Path(getattr(settings, "FLEETSITE_LOG_DIR", "") or Path(settings.DATA_DIR) / "logs")
    if directory not in _made_dirs:
        directory.mkdir(parents=True, exist_ok=True)
        _made_dirs.add(directory)
    return directory


def log_path(log_type: str) -> Path:
    kind = "result" if log_type == "result" else "status"
    key = (getattr(settings, "FLEETSITE_LOG_DIR", "") or settings.DATA_DIR, kind)
    path = _paths.get(key)
    if path is None:
        path = _paths[key] = log_dir() / FILE_NAMES[kind]
    return path


def _forget_dirs() -> None:
    """The log directory went away: make it again on the next write."""
    _made_dirs.clear()
    _paths.clear()


class _OpenLog:
    """A log file kept open for appending (O_APPEND: each batch is one write at the file's end)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = open(path, "ab", buffering=0)  # noqa: SIM115 - kept open across requests
        self.inode = os.fstat(self.file.fileno()).st_ino
        self.checked = time.monotonic()

    def is_current(self) -> bool:
        """Whether the path still names this file (not rotated or removed by another process)."""
        try:
            return os.stat(self.path).st_ino == self.inode
        except FileNotFoundError:
            return False

    def size(self) -> int:
        return os.fstat(self.file.fileno()).st_size

    def write(self, payload: bytes) -> None:
        view = memoryview(payload)
        while view:  # a regular file takes the whole batch in one call; a short write continues
            view = view[self.file.write(view) or 0 :]


class FilesystemDestination:
    """Appends JSON lines; rotates `name` → `name.1` → … → `name.<keep>` when the file grows too big.

    Each file stays open between requests; opening, locking and closing it per batch was a third of
    a log request's CPU. Appends take no lock (O_APPEND writes land whole); rotation takes a file
    lock shared by every process, and each process notices a rotation within RECHECK_SECONDS. A
    replaced file is not closed here but dropped: a thread still writing to it holds it open.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[Path, _OpenLog] = {}

    def write(self, log_type: str, entries: list[Any]) -> None:
        payload = _lines(entries)
        if not payload:
            return
        try:
            self._append(log_path(log_type), payload)
        except FileNotFoundError:  # the directory went away since it was made
            _forget_dirs()
            self._append(log_path(log_type), payload)

    def _append(self, path: Path, payload: bytes) -> None:
        max_bytes = int(float(getattr(settings, "FLEETSITE_LOG_ROTATE_MB", 0)) * 1024 * 1024)
        log = self._open.get(path)
        if log is None or time.monotonic() - log.checked >= RECHECK_SECONDS:
            log = self._reopened(path)
        if max_bytes > 0:
            size = log.size()
            if size > 0 and size + len(payload) > max_bytes:
                log = self._rotate(log, len(payload), max_bytes)
        log.write(payload)

    def _reopened(self, path: Path) -> _OpenLog:
        """The open file of `path`, opened again if the path names another file now."""
        with self._lock:
            log = self._open.get(path)
            if log is not None and time.monotonic() - log.checked >= RECHECK_SECONDS:
                log.checked = time.monotonic()
                if not log.is_current():
                    log = None
            if log is None:
                log = self._open[path] = _OpenLog(path)
            return log

    def _rotate(self, log: _OpenLog, payload_size: int, max_bytes: int) -> _OpenLog:
        """Rotate the full file, unless another process just did: then append to the new one if it has room."""
        with self._lock, _file_lock(log.path):
            try:
                size = log.path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size > 0 and size + payload_size > max_bytes:
                _rotate(log.path, int(getattr(settings, "FLEETSITE_LOG_KEEP", 5)))
            fresh = self._open[log.path] = _OpenLog(log.path)
            return fresh


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock shared by every process writing `path` (rotation renames the file itself)."""
    with open(f"{path}.lock", "a") as handle:
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
