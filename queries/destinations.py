"""Where osquery result and status logs go (fleet-protocol §1.3: Fleet's default is the filesystem)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings

_lock = threading.Lock()


def log_path(log_type: str) -> Path:
    directory = Path(settings.DATA_DIR) / "logs"
    directory.mkdir(parents=True, exist_ok=True)
    return directory / ("osqueryd.results.log" if log_type == "result" else "osqueryd.status.log")


def write(log_type: str, entries: list[Any]) -> None:
    """Append entries as JSON lines; one write call per batch keeps lines from interleaving."""
    if not entries:
        return
    payload = b"".join(orjson.dumps(entry) + b"\n" for entry in entries)
    with _lock, log_path(log_type).open("ab") as handle:
        handle.write(payload)
