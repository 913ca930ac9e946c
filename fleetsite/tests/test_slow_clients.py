"""Slow and greedy clients against a real `serve` process (issue 12 finding 8), over raw sockets.

The server runs with small timeouts set by environment variables, so each test takes seconds.
Clients bind distinct loopback addresses (127.0.0.x all reach the server on Linux), which lets one
server show both the per-address cap and that other addresses are unaffected by it.
"""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import socket
import time
from collections.abc import Iterator

import pytest
import websockets

from fleetsite.liveserver import LiveServer, isolated_database_url

pytestmark = pytest.mark.e2e

HEADER_TIMEOUT = 3.0
BODY_TIMEOUT = 2.0
BODY_STALL_TIMEOUT = 1.0
BODY_MIN_RATE = 256 * 1024
CAP = 20
PROXY = "127.0.0.9"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("slowclients") / "data"
    live = LiveServer(
        data_dir=data_dir,
        database_url=isolated_database_url(os.environ.get("DATABASE_URL", ""), data_dir, suffix="slowclients"),
        redis_url=os.environ.get("REDIS_URL", ""),
        extra_env={
            "FLEETSITE_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
            "FLEETSITE_BODY_TIMEOUT": str(BODY_TIMEOUT),
            "FLEETSITE_BODY_STALL_TIMEOUT": str(BODY_STALL_TIMEOUT),
            "FLEETSITE_BODY_MIN_RATE": str(BODY_MIN_RATE),
            "FLEETSITE_MAX_CONNECTIONS_PER_ADDRESS": str(CAP),
            "FLEETSITE_TRUSTED_PROXIES": PROXY,
        },
    )
    live.start()
    yield live
    assert live.stop() == 0, live.log()


def connect(server: LiveServer, source: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5, source_address=(source, 0))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until_closed(sock: socket.socket, timeout: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes (or `timeout`); returns it with the time taken."""
    started = time.monotonic()
    sock.settimeout(timeout)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        return received + b"<still open>", time.monotonic() - started
    return received, time.monotonic() - started


def wait_all_closed(socks: list[socket.socket], timeout: float) -> tuple[list[bytes], list[int]]:
    """Read every socket until closed; returns what each received and the indexes still open at `timeout`."""
    selector = selectors.DefaultSelector()
    received: dict[int, bytes] = {}
    for index, sock in enumerate(socks):
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, index)
        received[index] = b""
    open_indexes = set(received)
    deadline = time.monotonic() + timeout
    while open_indexes and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
            try:
                chunk = key.fileobj.recv(65536)  # type: ignore[union-attr]
            except ConnectionResetError:
                chunk = b""
            except BlockingIOError:
                continue
            if chunk:
                received[key.data] += chunk
            else:
                selector.unregister(key.fileobj)
                open_indexes.discard(key.data)
    selector.close()
    return [received[index] for index in range(len(socks))], sorted(open_indexes)


def simple_get(server: LiveServer, source: str = "127.0.0.1", path: str = "/healthz") -> bytes:
    with connect(server, source) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        received, _ = read_until_closed(sock, 10)
    return received


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0


def post_head(length: int, path: str = "/api/osquery/log") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def test_many_stalled_bodies_get_408_and_close_while_the_server_still_answers(server):
    # 60 connections over three addresses (20 each, within the cap): each sends its headers and a
    # sliver of a 1 MB body, then nothing.
    socks = []
    for index in range(60):
        sock = connect(server, f"127.0.0.{10 + index % 3}")
        sock.sendall(post_head(1024 * 1024) + b'{"node_key":')
        socks.append(sock)
    started = time.monotonic()
    received, still_open = wait_all_closed(socks, timeout=BODY_TIMEOUT + BODY_STALL_TIMEOUT + 5)
    elapsed = time.monotonic() - started
    for sock in socks:
        sock.close()
    assert still_open == [], f"{len(still_open)} stalled connections still open after {elapsed:.1f}s"
    assert {status_of(response) for response in received} == {408}
    body = json.loads(received[0].split(b"\r\n\r\n", 1)[1])
    assert body["errors"][0]["name"] == "base" and "time" in body["errors"][0]["reason"]
    assert status_of(simple_get(server)) == 200


def test_a_dribbled_body_is_cut_at_the_body_timeout_though_it_never_stalls(server):
    with connect(server, "127.0.0.14") as sock:
        sock.sendall(post_head(10_000))
        started = time.monotonic()
        sock.settimeout(0.3)
        response = b""
        while time.monotonic() - started < BODY_TIMEOUT + 6:
            try:
                sock.sendall(b" ")  # one byte every 0.3 s: never stalls, far below the minimum rate
                response += sock.recv(65536)
                if response:
                    break
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        elapsed = time.monotonic() - started
    assert status_of(response) == 408, response
    assert BODY_TIMEOUT - 0.5 < elapsed < BODY_TIMEOUT + 3


def dribble_headers_until_closed(sock: socket.socket) -> tuple[bool, float]:
    """Send a header line every 0.4 s until the server closes (True) or the limit passes; seconds taken."""
    started = time.monotonic()
    sock.settimeout(0.4)
    while time.monotonic() - started < HEADER_TIMEOUT + 6:
        try:
            sock.sendall(b"X-Slow: 1\r\n")
            if sock.recv(65536) == b"":
                return True, time.monotonic() - started
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return True, time.monotonic() - started
    return False, time.monotonic() - started


def test_a_connection_that_dribbles_its_headers_is_closed(server):
    with connect(server, "127.0.0.15") as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        closed, elapsed = dribble_headers_until_closed(sock)
    assert closed, f"still open after {elapsed:.1f}s"
    assert elapsed < HEADER_TIMEOUT + 3


def test_a_keep_alive_connection_that_dribbles_its_next_request_is_closed(server):
    with connect(server, "127.0.0.17") as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(sock.recv(65536)) == 200
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        closed, elapsed = dribble_headers_until_closed(sock)  # uvicorn's keep-alive timer never fires
    assert closed and elapsed < HEADER_TIMEOUT + 3


def test_a_busy_keep_alive_connection_outlives_the_header_timeout(server):
    with connect(server, "127.0.0.18") as sock:
        started = time.monotonic()
        while time.monotonic() - started < HEADER_TIMEOUT + 1.5:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert status_of(sock.recv(65536)) == 200
            time.sleep(0.25)


def test_a_connection_that_never_sends_anything_is_closed(server):
    with connect(server, "127.0.0.16") as sock:
        received, elapsed = read_until_closed(sock, HEADER_TIMEOUT + 6)
    assert received != b"<still open>" and not received.endswith(b"<still open>")
    assert elapsed < HEADER_TIMEOUT + 3


def test_connection_past_the_per_address_cap_is_refused_and_the_address_recovers(server):
    held = [connect(server, "127.0.0.20") for _ in range(CAP)]
    try:
        # Each held connection answers a request, so all of them were really accepted.
        for sock in held[:2]:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert status_of(sock.recv(65536)) == 200
        with connect(server, "127.0.0.20") as extra:
            received, elapsed = read_until_closed(extra, 2)
        assert not received.endswith(b"<still open>"), "connection past the cap was held"
        assert received == b"" or status_of(received) == 503, received
        assert elapsed < 1.5
        # Another address is not affected while this one is at its cap.
        assert status_of(simple_get(server, "127.0.0.21")) == 200
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 3
    while status_of(simple_get(server, "127.0.0.20")) != 200:
        assert time.monotonic() < deadline, "the address stayed refused after its connections closed"
        time.sleep(0.1)


def test_a_trusted_proxy_is_not_held_to_the_per_address_cap(server):
    socks = [connect(server, PROXY) for _ in range(CAP + 5)]
    try:
        for sock in socks:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        for sock in socks:
            sock.settimeout(5)
            assert status_of(sock.recv(65536)) == 200
    finally:
        for sock in socks:
            sock.close()


def test_a_large_body_slower_than_the_body_timeout_but_above_the_minimum_rate_is_read_whole(server):
    # 5 MB over about 3 s (~1.7 MB/s): longer than FLEETSITE_BODY_TIMEOUT, far above the minimum rate.
    size, chunk = 5 * 1024 * 1024, 64 * 1024
    body = b'{"node_key":"nope","log_type":"result","data":[' + b" " * (size - 49) + b"]}"
    with connect(server, "127.0.0.30") as sock:
        sock.sendall(post_head(len(body)))
        started = time.monotonic()
        for offset in range(0, len(body), chunk):
            sock.sendall(body[offset : offset + chunk])
            time.sleep(max(0.0, started + 3.0 * offset / len(body) - time.monotonic()))
        elapsed = time.monotonic() - started
        response, _ = read_until_closed(sock, 10)
    assert elapsed > BODY_TIMEOUT
    # The agent endpoint read it all and answered for the unknown node key (fleet-protocol §1.7).
    assert status_of(response) == 401, response[:300]
    assert b"node_invalid" in response


def test_an_idle_websocket_outlives_every_timeout(server):
    async def idle_then_talk() -> dict:
        url = f"ws://127.0.0.1:{server.port}/api/latest/fleet/results/websocket"
        async with websockets.connect(url) as ws:
            await asyncio.sleep(HEADER_TIMEOUT + BODY_TIMEOUT + 1)
            await ws.send(json.dumps({"type": "auth", "data": {"token": "wrong"}}))
            return json.loads(await asyncio.wait_for(ws.recv(), 5))

    frame = asyncio.run(idle_then_talk())
    assert frame == {"type": "error", "data": "unauthorized"}


def test_cut_connections_are_counted_in_metrics(server):
    # Operators see why connections were cut. Self-contained: under xdist the tests above may run
    # on another worker's server, so this one makes one cut of each kind itself.
    idle = connect(server, "127.0.0.40")
    stalled = connect(server, "127.0.0.41")
    stalled.sendall(post_head(1024 * 1024) + b'{"node_key":')
    held = [connect(server, "127.0.0.42") for _ in range(CAP)]
    try:
        for sock in held[:1]:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert status_of(sock.recv(65536)) == 200
        with connect(server, "127.0.0.42") as extra:
            read_until_closed(extra, 2)
        _, still_open = wait_all_closed([idle, stalled], timeout=HEADER_TIMEOUT + BODY_TIMEOUT + 5)
        assert still_open == []
    finally:
        for sock in [idle, stalled, *held]:
            sock.close()
    response = simple_get(server, path="/metrics").decode()
    counts = {
        line.split('reason="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in response.splitlines()
        if line.startswith("fleetsite_connections_cut_total{")
    }
    assert counts.get("header_timeout", 0) >= 1 and counts.get("body_timeout", 0) >= 1, counts
    assert counts.get("address_cap", 0) >= 1, counts
