"""The agent routes with a fixed path, answered ahead of Django's handler.

Profiled in a running server (docs/profiles/README.md), an idle check-in spent about as much CPU
in Django's request handling around the view (the middleware chain, URL resolving, the view
wrappers that `method_decorator` rebuilds per call) as in its own work. Agents send no cookies,
no CSRF token and no session: their key is in the body. So for the paths in
`enrollment.agent_urls` without parameters, this WSGI app calls the view's class directly and
keeps only what those requests use from the stack: Django's request signals (database
connections are checked and closed as usual), the client address (`ClientIPMiddleware`),
Prometheus metrics under the same route labels (`MetricsMiddleware`), and Django's own 500
answer and logging for an unexpected exception. Responses are the views' own, byte for byte,
plus a Content-Length (without one uvicorn sends them chunked, an extra write per response).

Every other path, and every request while OpenTelemetry traces requests (its spans come from
Django's middleware), goes to Django's handler unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core import signals
from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponseBase
from django.urls import ResolverMatch, URLPattern, URLResolver, get_resolver
from django.utils.log import log_response
from django.views import View

from fleetsite import telemetry
from fleetsite.metrics import observe_request
from fleetsite.middleware import set_client_ip

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class AgentRoute:
    """One fixed agent path: its view class, the arguments `as_view` was given, and its resolver match."""

    view_class: type[View]
    initkwargs: dict[str, Any]
    match: ResolverMatch


def fixed_agent_routes(urlconf: str = "enrollment.agent_urls") -> dict[str, AgentRoute]:
    """Every agent path without a parameter, as `/path` → route, resolved once through the URL conf.

    Only class-based views whose `dispatch` is View's own, or View's wrapped by `csrf_exempt`
    alone (which changes nothing without the CSRF middleware), qualify.
    """
    resolver = get_resolver(urlconf)
    routes: dict[str, AgentRoute] = {}
    for path in _fixed_paths(resolver.url_patterns, ""):
        match = resolver.resolve(path)
        view_class = getattr(match.func, "view_class", None)
        if view_class is None or match.args or match.kwargs or not _plain_dispatch(view_class):
            continue
        routes[path] = AgentRoute(view_class, dict(match.func.view_initkwargs), match)
    return routes


def _fixed_paths(patterns: list[Any], prefix: str) -> Iterable[str]:
    for pattern in patterns:
        route = str(pattern.pattern)
        if "<" in route or not hasattr(pattern.pattern, "_route"):
            continue  # a parameter, or a regex: resolved by Django
        if isinstance(pattern, URLResolver):
            yield from _fixed_paths(pattern.url_patterns, prefix + route)
        elif isinstance(pattern, URLPattern):
            yield "/" + prefix + route


def _plain_dispatch(view_class: type[View]) -> bool:
    """View's own dispatch, or the one AgentView and PingView wrap in csrf_exempt alone.

    Another decorator on dispatch (say, a cache header) would be skipped here, so such views
    go through Django.
    """
    from enrollment.agent.base import AgentView
    from enrollment.agent.orbit import PingView

    return view_class.dispatch in (View.dispatch, AgentView.dispatch, PingView.dispatch)


class AgentWSGI:
    """A WSGI app: fixed agent paths straight to their view, everything else to `django_app`."""

    def __init__(self, django_app: WSGIApp, routes: dict[str, AgentRoute] | None = None) -> None:
        self.django_app = django_app
        self.routes = fixed_agent_routes() if routes is None else routes

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        route = self.routes.get(environ.get("PATH_INFO", ""))
        if route is None or telemetry.installed():
            return self.django_app(environ, start_response)
        signals.request_started.send(sender=self.__class__, environ=environ)
        request = WSGIRequest(environ)
        request.resolver_match = route.match
        started = time.perf_counter()
        try:
            set_client_ip(request)
            response = _dispatch(route, request)
        except Exception as exc:  # as Django's handler does: its 500 answer, logged, got_request_exception sent
            response = response_for_exception(request, exc)
        if response.status_code >= 400:
            log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        observe_request(request, response, time.perf_counter() - started)
        response._resource_closers.append(request.close)
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))
        cookies = [("Set-Cookie", cookie.output(header="")) for cookie in response.cookies.values()]
        headers = [*response.items(), *cookies]
        start_response(f"{response.status_code} {response.reason_phrase}", headers)
        if getattr(response, "file_to_stream", None) is not None and environ.get("wsgi.file_wrapper"):
            response.file_to_stream.close = response.close
            return environ["wsgi.file_wrapper"](response.file_to_stream, response.block_size)
        return response  # closing it sends request_finished, as Django's handler does


def _dispatch(route: AgentRoute, request: WSGIRequest) -> HttpResponseBase:
    """What `as_view()`'s function does, without rebuilding the dispatch decorators per request."""
    view = route.view_class(**route.initkwargs)
    view.setup(request)
    return View.dispatch(view, request)
