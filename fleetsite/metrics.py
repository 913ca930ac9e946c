"""Prometheus metrics: per-route request counts and latency, agent check-ins, enrolled hosts."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

REQUESTS = Counter("http_requests_total", "HTTP requests by route, method and status.", ["handler", "method", "code"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route.",
    ["handler"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CHECKINS = Counter("fleetsite_agent_checkins_total", "Successful agent requests by endpoint.", ["endpoint"])
SLOW_CLIENTS_CUT = Counter(
    "fleetsite_connections_cut_total",
    "Connections closed by fleetsite.guarded_http: header or body timeout, or past the per-address cap.",
    ["reason"],
)


def record_checkin(endpoint: str) -> None:
    CHECKINS.labels(endpoint).inc()


def _route(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return "/" + match.route if match.route else match.view_name or "unknown"


class MetricsMiddleware:
    """Counts and times every request under its route pattern (not the raw path, to bound labels)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        observe_request(request, response, time.perf_counter() - started)
        return response


def observe_request(request: HttpRequest, response: HttpResponseBase, seconds: float) -> None:
    """Count and time one request under its route (also for `fleetsite.agent_wsgi`, which skips middleware)."""
    route = _route(request)
    REQUESTS.labels(route, request.method, str(response.status_code)).inc()
    LATENCY.labels(route).observe(seconds)


class EnrolledHostsCollector(Collector):
    """Counts hosts at scrape time, so the figure is right whatever process answers."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from hosts.models import Host  # the app registry is ready only at scrape time

        gauge = GaugeMetricFamily("fleetsite_enrolled_hosts", "Hosts enrolled in Fleetsite.")
        gauge.add_metric([], Host.objects.count())
        yield gauge


def exposition() -> bytes:
    """The metrics text, merged across worker processes when they share a multiprocess directory."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry) + generate_latest(_hosts_registry())
    return generate_latest(REGISTRY) + generate_latest(_hosts_registry())


def _hosts_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EnrolledHostsCollector())
    return registry
