"""Mount REST routes under every API version Fleet answers (fleet-protocol §0.1)."""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, URLResolver, path

API_VERSIONS = ("v1", "2022-04", "latest")


def versioned(route: str, view: Any, name: str | None = None) -> list[URLPattern | URLResolver]:
    """`route` under /api/<version>/fleet/ for each version; only `latest` carries the name."""
    patterns = []
    for version in API_VERSIONS:
        kwargs = {"name": name} if name and version == "latest" else {}
        patterns.append(path(f"api/{version}/fleet/{route}", view, **kwargs))
    return patterns


def is_v1(request: Any) -> bool:
    """Whether the request came under /api/v1/: a few paths mean another endpoint there (Fleet's v1 pack schedule)."""
    return request.path.startswith("/api/v1/")
