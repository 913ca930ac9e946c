"""A real HTTP receiver on a loopback port, in a thread: webhooks, Jira and Zendesk are posted to it."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Received:
    method: str
    path: str
    auth: tuple[str, str] | None
    body: Any


@dataclass
class Receiver:
    """What was received, and what to answer: `statuses` are used in turn, then `status`."""

    url: str
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0
    zendesk_group: int | None = None

    def posts(self, path: str | None = None) -> list[Any]:
        return [r.body for r in self.received if r.method == "POST" and (path is None or r.path == path)]

    def next_status(self) -> int:
        return self.statuses.pop(0) if self.statuses else self.status


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            auth = None
            header = self.headers.get("Authorization", "")
            if header.startswith("Basic "):
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                auth = (user, password)
            receiver.received.append(Received(self.command, self.path, auth, json.loads(raw) if raw else None))

        def _answer(self, body: Any = None) -> None:
            if receiver.delay:
                time.sleep(receiver.delay)
            data = json.dumps(body if body is not None else {}).encode()
            self.send_response(receiver.next_status())
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self._record()
            self._answer({"id": len(receiver.received)})

        def do_GET(self) -> None:  # noqa: N802
            self._record()
            group = receiver.zendesk_group
            self._answer({"group": {"id": group}} if group is not None else {"key": self.path.rsplit("/", 1)[-1]})

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    """A receiver, with retries immediate so that tests of the retry path do not wait."""
    settings.FLEETSITE_WEBHOOK_RETRY_BACKOFF = 0
    settings.FLEETSITE_WEBHOOK_TIMEOUT = 5
    server = ThreadingHTTPServer(("127.0.0.1", 0), None)  # type: ignore[arg-type]
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_port}")
    server.RequestHandlerClass = _handler(receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()
