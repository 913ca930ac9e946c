"""Drive a live query from outside, as the UI or fleetctl does: REST to start it, websocket to watch it.

Used by the end-to-end tests and by `make bench` (time from campaign start to the last result).
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import websockets


def call(base_url: str, method: str, path: str, body: dict | None = None, token: str = "") -> tuple[int, Any]:
    """A JSON REST call; returns (status, decoded body), or the raw bytes of a body that is not JSON."""
    request = urllib.request.Request(base_url + path, method=method, data=json.dumps(body).encode() if body else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl._create_unverified_context() if base_url.startswith("https") else None
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw or b"{}")
    except ValueError:
        return status, raw


def login(base_url: str, email: str, password: str) -> str:
    status, body = call(base_url, "POST", "/api/latest/fleet/login", {"email": email, "password": password})
    if status != 200:
        raise RuntimeError(f"login failed: {status} {body}")
    return body["token"]


@dataclass
class Watch:
    """What a websocket client saw of one campaign."""

    campaign_id: int
    started: float
    results: dict[int, dict] = field(default_factory=dict)
    frames: list[dict] = field(default_factory=list)
    finished_at: float | None = None
    last_result_at: float | None = None

    @property
    def seconds_to_last_result(self) -> float | None:
        return None if self.last_result_at is None else self.last_result_at - self.started


async def watch(ws_url: str, token: str, campaign_id: int, expected: int, timeout: float, started: float) -> Watch:
    """Follow a campaign until `expected` hosts answered (or `timeout`), recording every frame."""
    seen = Watch(campaign_id=campaign_id, started=started)
    ssl_context = ssl._create_unverified_context() if ws_url.startswith("wss") else None
    async with websockets.connect(ws_url, ssl=ssl_context, max_size=2**24) as socket:
        await socket.send(json.dumps({"type": "auth", "data": {"token": token}}))
        await socket.send(json.dumps({"type": "select_campaign", "data": {"campaign_id": campaign_id}}))
        deadline = time.monotonic() + timeout
        while (len(seen.results) < expected or seen.finished_at is None) and time.monotonic() < deadline:
            try:
                raw = await asyncio.wait_for(socket.recv(), max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                break
            frame = json.loads(raw)
            seen.frames.append(frame)
            if frame["type"] == "result":
                seen.results[frame["data"]["host"]["id"]] = frame["data"]
                seen.last_result_at = time.monotonic()
            elif frame["type"] == "error":
                raise RuntimeError(f"websocket error: {frame['data']}")
            elif frame["type"] == "status" and frame["data"]["status"] == "finished":
                seen.finished_at = time.monotonic()
    return seen
