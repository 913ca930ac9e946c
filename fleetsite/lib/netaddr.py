"""Client and public IP rules from fleet-protocol §8."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping

# What Fleet counts as private: RFC 1918, loopback, link-local, their IPv6 kin, and unique-local.
# Unlike `ipaddress.is_private`, documentation ranges such as 203.0.113.0/24 stay public.
_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "0.0.0.0/8",
        "100.64.0.0/10",
        "::1/128",
        "::/128",
        "fe80::/10",
        "fc00::/7",
    )
)


def parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Parse an address, tolerating a port suffix and IPv6 brackets; None when it is not an IP."""
    text = value.strip()
    if not text:
        return None
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def is_private(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return any(address in network for network in _PRIVATE_NETWORKS if network.version == address.version)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def proxy_networks(trusted_proxies: tuple[str, ...]) -> tuple[Network, ...]:
    """The configured proxies as networks: single addresses or CIDR ranges; bad entries are an error."""
    networks = []
    for entry in trusted_proxies:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"FLEETSITE_TRUSTED_PROXIES: {entry!r} is not an IP address or network") from exc
    return tuple(networks)


def _is_trusted(value: str, networks: tuple[Network, ...]) -> bool:
    address = parse_ip(value)
    return address is not None and any(address in network for network in networks if network.version == address.version)


def is_trusted_proxy(address: str, trusted_proxies: Iterable[str]) -> bool:
    """Is `address` one of FLEETSITE_TRUSTED_PROXIES (an address or inside a listed range)?"""
    return _is_trusted(address, proxy_networks(tuple(trusted_proxies)))


def client_ip(meta: Mapping[str, str], trusted_proxies: Iterable[str] = (), proxy_count: int = 0) -> str:
    """The client address: the socket peer, unless the peer is a configured proxy.

    Anyone can send `X-Forwarded-For`, so proxy headers are believed only from the peers listed
    in `trusted_proxies` (none by default). From such a peer: True-Client-IP, X-Real-IP, else the
    right-most `X-Forwarded-For` hop that is not itself a trusted proxy (hops further left were
    written by the client and prove nothing).

    Without a list, `proxy_count` (FLEETSITE_PROXY_COUNT) says how many proxies every request
    passes: each appends its peer to `X-Forwarded-For`, so the client is that many hops from the
    right. A header with fewer hops did not come through them all: the peer is used.
    """
    peer = meta.get("REMOTE_ADDR", "") or ""
    trusted_proxies = tuple(trusted_proxies)
    if proxy_count and not trusted_proxies:
        hops = [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= proxy_count and parse_ip(hops[-proxy_count]) is not None:
            return hops[-proxy_count]
        return peer
    networks = proxy_networks(trusted_proxies)
    if not networks or not _is_trusted(peer, networks):  # no proxies (the default): nothing to parse
        return peer
    for header in ("HTTP_TRUE_CLIENT_IP", "HTTP_X_REAL_IP"):
        value = meta.get(header, "").strip()
        if value:
            return value
    hops = [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, networks):
            return hop
    if hops:
        return hops[0]
    return peer


def public_ip(value: str) -> str:
    """The address as Fleet stores it in `public_ip`: empty when private or unparsable."""
    address = parse_ip(value)
    if address is None or is_private(address):
        return ""
    return str(address)
