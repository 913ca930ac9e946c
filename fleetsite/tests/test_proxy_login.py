"""An admin logs in through a TLS-terminating proxy (issue 14 acceptance): the browser speaks https
to the proxy, the proxy plain http to `serve`, and the CSRF check, Secure cookies and the client
address all follow the public URL and the proxy settings."""

from __future__ import annotations

import http.client
import http.cookiejar
import re
import ssl
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fleetsite.lib.selfsigned import ensure_certificate
from fleetsite.liveserver import LiveServer, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.own_sqlite]

EMAIL, PASSWORD = "proxy-admin@example.com", "a long proxy password 1234"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}


class ProxyHandler(BaseHTTPRequestHandler):
    """Forwards each request to the upstream as nginx would: X-Forwarded-For and -Proto added."""

    protocol_version = "HTTP/1.1"
    upstream_port = 0

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass

    def forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {key: value for key, value in self.headers.items() if key.lower() not in HOP_BY_HOP}
        headers["X-Forwarded-For"] = self.client_address[0]
        headers["X-Forwarded-Proto"] = "https"
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        finally:
            upstream.close()
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = forward


def start_proxy(port: int, upstream_port: int, cert: Path, key: Path) -> ThreadingHTTPServer:
    handler = type("Handler", (ProxyHandler,), {"upstream_port": upstream_port})
    proxy = ThreadingHTTPServer(("127.0.0.1", port), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    proxy.socket = context.wrap_socket(proxy.socket, server_side=True)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    return proxy


@pytest.fixture(params=["trusted-proxies", "proxy-count"])
def proxied(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    cert, key = ensure_certificate(tmp_path / "proxy-tls", [])
    proxy_port = free_port()
    public_url = f"https://127.0.0.1:{proxy_port}"
    trust = (
        {"FLEETSITE_TRUSTED_PROXIES": "127.0.0.1", "FLEETSITE_TLS_PROXY_HEADER": "X-Forwarded-Proto"}
        if request.param == "trusted-proxies"
        else {"FLEETSITE_PROXY_COUNT": "1"}
    )
    live = LiveServer(data_dir=tmp_path / "data", extra_env={"FLEETSITE_SERVER_URL": public_url, **trust})
    live.data_dir.mkdir()
    live.manage("migrate", "--noinput")
    live.extra_env.update(DJANGO_SUPERUSER_EMAIL=EMAIL, DJANGO_SUPERUSER_PASSWORD=PASSWORD)
    live.manage("createsuperuser", "--noinput")
    with live:
        proxy = start_proxy(proxy_port, live.port, cert, key)
        try:
            yield public_url, cert
        finally:
            proxy.shutdown()
            proxy.server_close()


def test_an_admin_logs_in_through_a_tls_terminating_proxy(proxied: tuple[str, Path]) -> None:
    public_url, cert = proxied
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(jar),
        urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=str(cert))),
    )
    with browser.open(f"{public_url}/login/", timeout=30) as response:
        page = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "email": EMAIL, "password": PASSWORD, "next": "/"})
    request = urllib.request.Request(
        f"{public_url}/login/",
        data=form.encode(),
        headers={"Origin": public_url, "Referer": f"{public_url}/login/"},
    )
    with browser.open(request, timeout=30) as response:  # follows the redirect to the dashboard
        assert response.status == 200
        assert response.url == f"{public_url}/"
        assert "Dashboard" in response.read().decode()
    cookies = {cookie.name: cookie for cookie in jar}
    assert cookies["sessionid"].secure and cookies["csrftoken"].secure
    # The "Add hosts" page tells agents the public https URL, not the upstream http address.
    with browser.open(f"{public_url}/hosts/add/", timeout=30) as response:
        assert f'<code id="server-url">{public_url}</code>' in response.read().decode()
