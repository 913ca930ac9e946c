"""What changes when a request came over TLS: Secure cookies, and which proxies may say so.

Settings come from the environment while `serve --tls` is a command-line flag, so whether TLS is
on is decided per request (`request.is_secure()`): Secure cookies on https, plain ones on the
`make run` address http://127.0.0.1:8080, where Secure cookies would never come back.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from fleetsite.lib.netaddr import is_trusted_proxy


class TLSMiddleware:
    """Marks every cookie Secure on https requests; drops the TLS proxy header from untrusted peers.

    Django believes `SECURE_PROXY_SSL_HEADER` from any peer. When `FLEETSITE_TRUSTED_PROXIES`
    lists the proxies, a client that reaches the server directly must not be able to claim TLS.
    Runs above the session and CSRF middleware so that it sees the cookies they set.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        proxy_header = settings.SECURE_PROXY_SSL_HEADER
        self.proxy_meta_key = proxy_header[0] if proxy_header else ""
        self.trusted = tuple(settings.FLEETSITE_TRUSTED_PROXIES)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            self.proxy_meta_key
            and self.trusted
            and not is_trusted_proxy(request.META.get("REMOTE_ADDR", ""), self.trusted)
        ):
            request.META.pop(self.proxy_meta_key, None)
        response = self.get_response(request)
        if response.cookies and request.is_secure():
            for morsel in response.cookies.values():
                morsel["secure"] = True
        return response
