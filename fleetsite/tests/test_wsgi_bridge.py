"""The WSGI bridge's body reading, without a server."""

from __future__ import annotations

from fleetsite.wsgi_bridge import WSGIBridge


def scope() -> dict:
    return {"type": "http", "method": "POST", "path": "/api/osquery/log", "query_string": b"", "headers": []}


async def test_a_client_gone_before_its_body_is_whole_never_reaches_the_app():
    # A body cut short (the client left, or fleetsite.guarded_http timed it out) must not be
    # handled as if it were the whole request: half a form or half a log batch is not data.
    calls = []
    messages = iter(
        [{"type": "http.request", "body": b"name=a&amount=1", "more_body": True}, {"type": "http.disconnect"}]
    )
    sent = []

    async def receive() -> dict:
        return next(messages)

    async def send(message: dict) -> None:
        sent.append(message)

    def app(environ: dict, start_response) -> list[bytes]:
        calls.append(environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    bridge = WSGIBridge(app, threads=1, max_body=1024)
    await bridge(scope(), receive, send)
    assert calls == [] and sent == []
