"""uvicorn's httptools protocol with read timeouts and a per-address connection cap (issue 12 finding 8).

uvicorn only times out idle keep-alive connections, and only after a first response: a client that
connects and never finishes its headers or its body holds a socket forever. This subclass adds:

* a header timeout, from the connection (or the first byte of a later keep-alive request) to the
  end of the headers; past it the connection is closed;
* a body timeout sized by a minimum rate, as Apache's mod_reqtimeout does: the body has
  FLEETSITE_BODY_TIMEOUT seconds, plus one more for every FLEETSITE_BODY_MIN_RATE bytes received,
  and may not stall longer than FLEETSITE_BODY_STALL_TIMEOUT between chunks; past either the client
  gets a 408 and the connection is closed. So an agent posting 16 MB over a slow link is never cut,
  while a client that dribbles is;
* a cap on open connections per peer address, checked as the connection is made: past it the
  client gets a 503 and the connection is closed at once. Trusted proxies (FLEETSITE_TRUSTED_PROXIES)
  carry everyone's connections, so they are exempt. Websockets, long-lived by design, leave the count
  and every timer when they upgrade (uvicorn's pings watch them).

The hot path pays one timer per connection and none per request (see `_arm`); the body is
watched only when it does not arrive with its headers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cache
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from fleetsite.lib.netaddr import is_trusted_proxy

_TIMEOUT_BODY = b'{"message":"Request Timeout","errors":[{"name":"base","reason":"request body not received in time"}]}'
_BUSY_BODY = (
    b'{"message":"Service Unavailable","errors":[{"name":"base","reason":"too many connections from this address"}]}'
)


@dataclass(frozen=True)
class ConnectionLimits:
    """The limits from settings; see the README's production settings."""

    header_timeout: float
    body_timeout: float
    body_stall_timeout: float
    body_min_rate: int
    max_per_address: int  # 0: no cap
    trusted_proxies: tuple[str, ...]  # exempt from the cap: they carry everyone's connections


@cache
def configured_limits() -> ConnectionLimits:
    """Read once per process: protocols are built per connection, settings never change."""
    from django.conf import settings

    return ConnectionLimits(
        header_timeout=settings.FLEETSITE_HEADER_TIMEOUT,
        body_timeout=settings.FLEETSITE_BODY_TIMEOUT,
        body_stall_timeout=settings.FLEETSITE_BODY_STALL_TIMEOUT,
        body_min_rate=settings.FLEETSITE_BODY_MIN_RATE,
        max_per_address=settings.FLEETSITE_MAX_CONNECTIONS_PER_ADDRESS,
        trusted_proxies=tuple(settings.FLEETSITE_TRUSTED_PROXIES),
    )


# What a connection is waiting for: nothing the client owes us, the request headers, the body.
_IDLE, _HEADERS, _BODY = 0, 1, 2

# Open HTTP connections per peer address in this process (one event loop per process).
_open_per_address: dict[str, int] = {}


def _count_cut(reason: str) -> None:
    # Imported here: prometheus_client must load after serve sets PROMETHEUS_MULTIPROC_DIR.
    from fleetsite.metrics import SLOW_CLIENTS_CUT

    SLOW_CLIENTS_CUT.labels(reason).inc()


def _response(status: int, body: bytes, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    lines = [STATUS_LINE[status]]
    lines.extend(name + b": " + value + b"\r\n" for name, value in default_headers)
    lines.append(b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body))
    lines.append(body)
    return b"".join(lines)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that closes slow clients and refuses connections past the per-address cap."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = configured_limits()
        self._counted_address: str | None = None
        self._phase = _IDLE
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._header_deadline = 0.0
        self._body_started = 0.0  # 0: the body is not being watched (yet)
        self._body_received = 0
        self._body_last_progress = 0.0

    # -- connection -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else None
        limits = self.limits
        if (
            address is not None
            and limits.max_per_address
            and not (limits.trusted_proxies and is_trusted_proxy(address, limits.trusted_proxies))
        ):
            already_open = _open_per_address.get(address, 0)
            if already_open >= limits.max_per_address:
                self.transport.write(_response(503, _BUSY_BODY, self.server_state.default_headers))
                self.transport.close()
                _count_cut("address_cap")
                return
            _open_per_address[address] = already_open + 1
            self._counted_address = address
        self._phase = _HEADERS
        self._header_deadline = self.loop.time() + limits.header_timeout
        self._arm(self._header_deadline)

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        # The websocket protocol takes the transport over; this one never hears of it again.
        self._release()
        super().handle_websocket_upgrade()

    def _release(self) -> None:
        self._phase = _IDLE
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        address, self._counted_address = self._counted_address, None
        if address is not None:
            remaining = _open_per_address[address] - 1
            if remaining > 0:
                _open_per_address[address] = remaining
            else:
                del _open_per_address[address]

    # -- one lazy timer per connection ------------------------------------------------------
    # Phases move deadlines, never timers: the timer is re-armed only when it fires (or when a
    # deadline comes sooner than it), so a busy keep-alive connection costs no timer per request.

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            if self._timer_at <= when:
                return
            self._timer.cancel()
        self._timer = self.loop.call_at(when, self._timer_fired)
        self._timer_at = when

    def _timer_fired(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        if self._phase == _HEADERS:
            if self.cycle is not None and not self.cycle.response_complete:
                # Still answering the previous request: the next one's headers wait for us, not the client.
                self._header_deadline = now + self.limits.header_timeout
            elif now >= self._header_deadline:
                self.transport.close()
                _count_cut("header_timeout")
                return
            self._arm(self._header_deadline)
        elif self._phase == _BODY and self._body_started:
            if self.flow.read_paused:
                # We stopped reading (the app has not taken the body yet): not the client's delay.
                self._body_last_progress = now
            deadline = self._body_deadline()
            if now >= deadline:
                self._body_timed_out()
                return
            self._arm(deadline)
        # Otherwise idle (uvicorn's keep-alive timeout watches that) or answering: nothing to watch.

    # -- headers ----------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._phase != _HEADERS:  # a later request on a keep-alive connection
            self._phase = _HEADERS
            self._header_deadline = self.loop.time() + self.limits.header_timeout
            self._arm(self._header_deadline)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self.parser.should_upgrade() and self._should_upgrade():
            self._phase = _IDLE
        else:
            self._phase = _BODY
            self._body_started = 0.0
            self._body_received = 0

    # -- body -------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._phase == _BODY and not self._body_started and not self.transport.is_closing():
            # The body did not come whole with the headers: watch it from here.
            self._body_started = self._body_last_progress = self.loop.time()
            self._arm(self._body_deadline())

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._body_received += len(body)
        if self._body_started:
            self._body_last_progress = self.loop.time()

    def on_message_complete(self) -> None:
        self._phase = _IDLE
        super().on_message_complete()

    def _body_deadline(self) -> float:
        limits = self.limits
        by_rate = self._body_started + limits.body_timeout + self._body_received / limits.body_min_rate
        return min(by_rate, self._body_last_progress + limits.body_stall_timeout)

    def _body_timed_out(self) -> None:
        self._phase = _IDLE
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            self.transport.write(_response(408, _TIMEOUT_BODY, self.server_state.default_headers))
        if cycle is not None:
            # As if the client had gone: the app's receive() gets http.disconnect, and sends nothing.
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()
        _count_cut("body_timeout")
