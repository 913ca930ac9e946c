"""The server's public URL (FLEETSITE_SERVER_URL) and what derives from it.

One setting names the address agents and people use; the allowed host names, the CSRF trusted
origin, the "Add hosts" commands, installer defaults and email links all follow from it, so an
operator cannot set one and forget another.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"]


@dataclass(frozen=True)
class ServerURL:
    scheme: str
    hostname: str
    origin: str


def server_url_parts(url: str) -> ServerURL | None:
    """Split a server URL; None when empty, ValueError when it is not an absolute http(s) URL."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an absolute http(s) URL such as https://fleet.example.com, got {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"must not carry a query or fragment, got {url!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"has a bad port: {url!r}") from exc
    # Browsers send the Origin header in lower case, without credentials.
    origin = f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1].lower()}"
    return ServerURL(scheme=parts.scheme, hostname=parts.hostname, origin=origin)


def _host_pattern(name: str) -> str:
    """An ALLOWED_HOSTS entry: IPv6 addresses in brackets, as Django compares them."""
    try:
        address = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return name.lower()
    return f"[{address}]" if address.version == 6 else str(address)


def derived_allowed_hosts(hostname: str, tls_names: list[str]) -> list[str]:
    """The host names a server with a public URL answers to: that name, its certificate's, loopback."""
    return list(dict.fromkeys(_host_pattern(name) for name in [hostname, *tls_names, *LOOPBACK_HOSTS] if name))


def public_base_url(fallback: str = "") -> str:
    """The URL to print for people and agents: the admin's app config, the environment, else `fallback`.

    `fallback` is usually the URL the current request came in on (`request.build_absolute_uri("/")`).
    """
    from django.conf import settings

    from fleetsite.models import FleetConfig

    configured = FleetConfig.load().server_url or settings.FLEETSITE_SERVER_URL
    return (configured or fallback).rstrip("/")
