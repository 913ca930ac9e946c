"""Request middleware: the client address, and a short path for agent requests."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, get_resolver

from fleetsite.lib.netaddr import client_ip

_AGENT_PREFIXES = ("/api/osquery/", "/api/v1/osquery/", "/api/fleet/")


class ClientIPMiddleware:
    """Sets `request.client_ip`: the peer, or what a configured proxy says (fleet-protocol §8)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        set_client_ip(request)
        return self.get_response(request)


def set_client_ip(request: HttpRequest) -> None:
    """`request.client_ip` (also for `fleetsite.agent_wsgi`, which skips middleware)."""
    # Read per request (parsed once, memoized) so a changed setting applies without a restart.
    request.client_ip = client_ip(request.META, settings.FLEETSITE_TRUSTED_PROXIES, settings.FLEETSITE_PROXY_COUNT)


def is_agent_path(path: str) -> bool:
    return path.startswith(_AGENT_PREFIXES) or ("/fleet/device/" in path and path.startswith("/api/"))


class AgentFastPathMiddleware:
    """Answers agent routes directly, skipping session, CSRF, auth and message middleware.

    Agents send no cookies and authenticate with keys in the body, so that machinery only costs
    CPU on the hottest path. Anything that is not an agent route goes down the normal chain.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.resolver = get_resolver("enrollment.agent_urls")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_agent_path(request.path_info):
            try:
                match = self.resolver.resolve(request.path_info)
            except Resolver404:
                return self.get_response(request)
            request.resolver_match = match
            return match.func(request, *match.args, **match.kwargs)
        return self.get_response(request)
