"""Work that check-ins note in memory and a background thread writes in batches.

Agents are many: writing each check-in's small change on its own costs a transaction per
request. A `BatchBuffer` collects pending work under a lock and writes it every few seconds in
a handful of statements for all hosts at once; at process exit what is left is written.
Subclasses say how to merge a new item into the pending ones and how to write a batch.
"""

from __future__ import annotations

import atexit
import logging
import threading
from typing import Generic, TypeVar

from django.db import close_old_connections

logger = logging.getLogger(__name__)

Key = TypeVar("Key")
Item = TypeVar("Item")


class BatchBuffer(Generic[Key, Item]):
    """Pending items by key, written together by `write_batch` every `interval()` seconds."""

    thread_name = "batch-flusher"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[Key, Item] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # --- what subclasses decide ---

    def interval(self) -> float:
        """Seconds between writes; 0 means nothing runs in the background (tests flush by hand)."""
        raise NotImplementedError

    def merge(self, pending: Item | None, new: Item) -> Item:
        """The item to keep when `new` arrives for a key that may already have one pending."""
        return new

    def write_batch(self, pending: dict[Key, Item]) -> int:
        """Write everything pending; returns how many keys were written."""
        raise NotImplementedError

    # --- the machinery ---

    def add(self, key: Key, item: Item) -> None:
        with self._lock:
            self._pending[key] = self.merge(self._pending.get(key), item)
        if self._thread is None and self.interval() > 0:
            self._start()

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def discard(self) -> None:
        """Drop pending items without writing them (tests start from a clean buffer)."""
        with self._lock:
            self._pending.clear()

    def flush(self) -> int:
        """Write every pending item now; returns how many keys were written."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        return self.write_batch(pending)

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()
        atexit.register(self.stop)

    def _run(self) -> None:
        while not self._stop.wait(self.interval()):
            self._flush_safely()

    def _flush_safely(self) -> None:
        try:
            close_old_connections()
            self.flush()
        except Exception:  # one lost batch must not kill the flusher
            logger.exception("%s: writing a batch failed", self.thread_name)

    def stop(self) -> None:
        """Write what is left; called at process exit."""
        self._stop.set()
        self._flush_safely()
