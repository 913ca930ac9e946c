"""Route parity with Fleet: which of Fleet's routes this project answers (issue 19, item 1).

Fleet's routes are data (`fleet_routes.tsv`, taken from Fleet's handler.go). Each one is
resolved against our URL conf with sample values for its path parameters, and counts as built
only when the view found there handles the HTTP method. Versioned routes (`/api/_version_/…`)
are tried under every prefix Fleet serves them on, as we mount them: `v1` and `latest`.

States: `built`; `refused` (the view answers Fleet's own "not available" error on purpose: mark
its class or function with `fleet_route_refused = True`); `mdm` (not built and out of scope);
`missing` (not built, in scope). `manage.py fleet_routes --markdown` writes the result to
docs/fleet-routes.md, which a test keeps in step with the URL conf.
"""

from __future__ import annotations

import csv
import inspect
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.urls import Resolver404, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern

ROUTES_TSV = Path(__file__).with_name("fleet_routes.tsv")
DOCS_PATH = Path(__file__).resolve().parent.parent / "docs" / "fleet-routes.md"

BUILT, REFUSED, MISSING, MDM = "built", "refused", "missing", "mdm"
STATES = (BUILT, REFUSED, MISSING, MDM)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})

# The prefixes a versioned Fleet route is reached on, by the `versions` column of the TSV.
# `latest` is what Fleet's own clients send; `v1` is what older fleetctl and scripts send.
VERSION_PREFIXES = {
    "all": ("v1", "latest"),
    "v1": ("v1",),
    "2022-04+": ("latest",),
}

_PARAM = re.compile(r"\{([a-z_]+)\}")
_UUID = "a1b2c3d4-0000-4000-8000-000000000001"
# Sample values shaped like what Fleet's clients send; any other parameter is a numeric id.
_SAMPLES = {
    "token": "sampletoken0123456789",
    "name": "sample-name",
    "identifier": "sample-host",
    "cve": "CVE-2024-0001",
    "kind": "pkg",
    "execution_id": _UUID,
    "activity_id": _UUID,
    "batch_execution_id": _UUID,
}


@dataclass(frozen=True)
class FleetRoute:
    """One route Fleet registers: a method on a path with Fleet's `{param}` names."""

    method: str
    path: str
    versions: str
    transport: str
    family: str
    mdm: bool
    note: str

    def concrete_paths(self) -> list[str]:
        """The request paths to try here: each version prefix, parameters filled with samples."""
        filled = _PARAM.sub(lambda m: sample_value(m.group(1)), self.path)
        if "_version_" not in filled:
            return [filled]
        return [filled.replace("_version_", version) for version in VERSION_PREFIXES[self.versions]]


@dataclass(frozen=True)
class RouteStatus:
    route: FleetRoute
    state: str


def sample_value(param: str) -> str:
    if param in _SAMPLES:
        return _SAMPLES[param]
    if param.endswith("_uuid"):
        return _UUID
    return "7"


def load_routes(tsv: Path = ROUTES_TSV) -> list[FleetRoute]:
    """Fleet's routes from the TSV (comment lines start with `#`); a malformed row raises ValueError."""
    with tsv.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader((line for line in handle if not line.startswith("#")), delimiter="\t")
        routes = [_route_from_row(row) for row in rows]
    seen: set[tuple[str, str, str]] = set()
    for route in routes:
        key = (route.method, route.path, route.versions)
        if key in seen:
            raise ValueError(f"duplicate Fleet route {key}")
        seen.add(key)
    return routes


def _route_from_row(row: dict[str, str]) -> FleetRoute:
    route = FleetRoute(
        method=row["method"],
        path=row["path"],
        versions=row["versions"],
        transport=row["transport"],
        family=row["family"],
        mdm={"yes": True, "no": False}[row["mdm"]],
        note=row["note"] or "",
    )
    if route.method not in METHODS:
        raise ValueError(f"unknown method in {row}")
    if route.transport not in ("http", "websocket"):
        raise ValueError(f"unknown transport in {row}")
    if ("_version_" in route.path) != (route.versions in VERSION_PREFIXES):
        raise ValueError(f"versions {route.versions!r} do not fit {route.path}")
    return route


def handles_method(view: Callable[..., Any], method: str) -> bool:
    """Whether a resolved view answers `method` rather than 405."""
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        name = method.lower()
        if name not in view_class.http_method_names:
            return False
        if name == "head":  # Django's View answers HEAD with its GET handler
            return hasattr(view_class, "head") or hasattr(view_class, "get")
        return hasattr(view_class, name)
    # A function view answers every method unless require_http_methods narrowed it.
    allowed = inspect.getclosurevars(view).nonlocals.get("request_method_list") if inspect.isfunction(view) else None
    return allowed is None or method in allowed


def is_refused(view: Callable[..., Any]) -> bool:
    return bool(getattr(getattr(view, "view_class", view), "fleet_route_refused", False))


def _websocket_resolver() -> URLResolver:
    from fleetsite.routing import websocket_urlpatterns

    return URLResolver(RegexPattern(r"^/"), websocket_urlpatterns)


def route_state(route: FleetRoute, http_resolver: URLResolver | None = None) -> str:
    """Built when every concrete path resolves to a view that handles the method."""
    resolver = _websocket_resolver() if route.transport == "websocket" else (http_resolver or get_resolver())
    views = []
    for request_path in route.concrete_paths():
        try:
            match = resolver.resolve(request_path)
        except Resolver404:
            break
        if route.transport == "http" and not handles_method(match.func, route.method):
            break
        views.append(match.func)
    else:
        return REFUSED if any(is_refused(view) for view in views) else BUILT
    return MDM if route.mdm else MISSING


def route_statuses(routes: Iterable[FleetRoute] | None = None) -> list[RouteStatus]:
    resolver = get_resolver()
    return [RouteStatus(route, route_state(route, resolver)) for route in (load_routes() if routes is None else routes)]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(statuses: list[RouteStatus]) -> str:
    """docs/fleet-routes.md: counts first, then missing in-scope families, then every route."""
    in_scope = [s for s in statuses if not s.route.mdm]
    mdm = [s for s in statuses if s.route.mdm]
    scope_counts = Counter(s.state for s in in_scope)
    mdm_counts = Counter(s.state for s in mdm)
    lines = [
        "# Fleet's routes here",
        "",
        "Generated by `manage.py fleet_routes --markdown` from `fleetsite/fleet_routes.tsv` (Fleet's",
        "handler.go, see its header) and this project's URL conf; do not edit by hand. A route is",
        "*built* when its path, with sample parameters, resolves under every API prefix Fleet serves",
        "it on (`/api/v1/fleet/`, `/api/latest/fleet/`) to a view that handles its method; *refused*",
        'when that view answers Fleet\'s "not available" error on purpose; *mdm* when it is an MDM',
        "route (out of scope) that is not built; *missing* otherwise.",
        "",
        "| | built | refused | missing | mdm | total |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        _count_row("non-MDM routes", scope_counts, len(in_scope)),
        _count_row("MDM routes", mdm_counts, len(mdm)),
        _count_row("all Fleet routes", scope_counts + mdm_counts, len(statuses)),
        "",
        "## Missing non-MDM routes by family",
        "",
        "| family | missing | of |",
        "| --- | ---: | ---: |",
    ]
    per_family = Counter(s.route.family for s in in_scope)
    missing_per_family = Counter(s.route.family for s in in_scope if s.state == MISSING)
    for family in sorted(missing_per_family, key=lambda f: (-missing_per_family[f], f)):
        lines.append(f"| {family} | {missing_per_family[family]} | {per_family[family]} |")
    lines += [
        "",
        "## Every Fleet route",
        "",
        "| state | method | path | versions | family | note |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for status in statuses:
        route = status.route
        lines.append(
            f"| {status.state} | {route.method} | `{route.path}` | {route.versions} | {route.family} |"
            f" {_cell(route.note)} |"
        )
    return "\n".join(lines) + "\n"


def _count_row(label: str, counts: Counter[str], total: int) -> str:
    return f"| {label} | " + " | ".join(str(counts[state]) for state in STATES) + f" | {total} |"


_DOC_ROW = re.compile(r"^\| (built|refused|missing|mdm) \| ([A-Z]+) \| `([^`]+)` \| ([^ |]+) \|")


def documented_states(markdown: str) -> dict[tuple[str, str, str], str]:
    """(method, path, versions) -> state, read back from a generated docs/fleet-routes.md."""
    states = {}
    for line in markdown.splitlines():
        match = _DOC_ROW.match(line)
        if match:
            state, method, path, versions = match.groups()
            states[(method, path, versions)] = state
    return states
