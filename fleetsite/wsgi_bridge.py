"""Serve Django's WSGI handler from an ASGI server with one thread hop per request.

Why not Django's ASGI handler or a2wsgi: measured on this machine (`make bench`), an empty
Django view costs about 2.8 CPU-ms under Django's ASGI handler, 0.73 under uvicorn + a2wsgi and
0.5 under gunicorn, while this bridge under uvicorn costs about 0.33. The difference is the
number of event-loop/thread crossings: this bridge reads the body on the loop, runs the whole
WSGI call in a worker thread, and sends the response back in one piece (streaming responses
are pulled chunk by chunk).
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_TOO_LARGE = b'{"message":"Request Entity Too Large","errors":[{"name":"base","reason":"request body too large"}]}'


class _ClientGone(Exception):
    """The client went (or was timed out, see `fleetsite.guarded_http`) before its body was whole."""


class WSGIBridge:
    """An ASGI callable for HTTP scopes that runs `app` (a WSGI application) in a thread pool."""

    def __init__(self, app: WSGIApp, threads: int, max_body: int) -> None:
        self.app = app
        self.max_body = max_body
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wsgi")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await self._read_body(receive)
        except _ClientGone:
            return  # never run the app on half a body, and no one is left to answer
        if body is None:
            await _send_whole(send, 413, [(b"content-type", b"application/json")], _TOO_LARGE)
            return
        loop = asyncio.get_running_loop()
        status, headers, payload, stream = await loop.run_in_executor(self.pool, self._call, environ_for(scope, body))
        if stream is None:
            await _send_whole(send, status, headers, payload)
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        try:
            while True:
                chunk = await loop.run_in_executor(self.pool, next, stream, None)
                if chunk is None:
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                await loop.run_in_executor(self.pool, close)

    async def _read_body(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        return b"".join(chunks)

    def _call(self, environ: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes, Iterator[bytes] | None]:
        """Run the WSGI app; small responses come back whole, streaming ones as an iterator."""
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            started["status"] = int(status.split(" ", 1)[0])
            started["headers"] = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
            return _no_write

        result = self.app(environ, start_response)
        if getattr(result, "streaming", False):
            return started["status"], started["headers"], b"", iter(result)  # type: ignore[arg-type]
        try:
            payload = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return started["status"], started["headers"], payload, None


def _no_write(data: bytes) -> None:
    raise RuntimeError("the WSGI write() callable is not supported")


async def _send_whole(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def environ_for(scope: Scope, body: bytes) -> dict[str, Any]:
    """The PEP 3333 environ for an ASGI HTTP scope."""
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode("utf-8").decode("latin-1"),
        "PATH_INFO": scope["path"].encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] or 80),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": client[0],
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if name == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif name == "CONTENT_LENGTH":
            continue  # the body is already read; its real length is set above
        else:
            key = f"HTTP_{name}"
            environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ
