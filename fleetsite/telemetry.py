"""OpenTelemetry tracing: off unless the standard `OTEL_*` variables ask for it.

Architecture seed 004 names OpenTelemetry beside Prometheus. Operators configure it as they do
every other OpenTelemetry service (`OTEL_TRACES_EXPORTER`, `OTEL_EXPORTER_OTLP_ENDPOINT`,
`OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`, …), so there is no Fleetsite-specific setting.
When on, the maintained instrumentations trace Django requests, Celery tasks, Redis calls and
SQL (through the database driver: sqlite3, mysqlclient or psycopg), all in one trace per request.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the SDK is imported only when tracing is on
    from opentelemetry.sdk.trace import SpanProcessor

logger = logging.getLogger(__name__)

_installed = False


def installed() -> bool:
    """Whether requests are traced (then every request goes through Django's middleware, see agent_wsgi)."""
    return _installed


def tracing_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """True when the environment asks for traces to be exported, by OpenTelemetry's own rules."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return bool(environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def _exporter_processors(environ: Mapping[str, str]) -> list[SpanProcessor]:
    """Batch processors for each exporter `OTEL_TRACES_EXPORTER` names (OTLP over HTTP by default)."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    processors: list[SpanProcessor] = []
    for name in (environ.get("OTEL_TRACES_EXPORTER") or "otlp").lower().split(","):
        name = name.strip()
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            processors.append(BatchSpanProcessor(OTLPSpanExporter()))
        elif name == "console":
            processors.append(BatchSpanProcessor(ConsoleSpanExporter()))
        elif name and name != "none":
            logger.warning("OTEL_TRACES_EXPORTER names %r, which Fleetsite does not ship; ignored", name)
    return processors


def install(processors: list[SpanProcessor] | None = None, environ: Mapping[str, str] = os.environ) -> bool:
    """Set the tracer provider and instrument Django, Celery, Redis and the database driver.

    Runs before Django loads its middleware (from the app registry's `ready`), so the request
    span wraps everything. `processors` replaces the exporters the environment names (tests pass
    an in-memory one). Returns False when tracing is off or was already installed.
    """
    global _installed
    if _installed or (processors is None and not tracing_requested(environ)):
        return False
    from opentelemetry import trace
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES still win: Resource.create reads them.
    provider = TracerProvider(resource=Resource.create({"service.name": "fleetsite"}))
    for processor in processors if processors is not None else _exporter_processors(environ):
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument(tracer_provider=provider)
    CeleryInstrumentor().instrument(tracer_provider=provider)
    RedisInstrumentor().instrument(tracer_provider=provider)
    _instrument_database_driver(provider)
    _installed = True
    return True


def _instrument_database_driver(provider: object) -> None:
    """SQL spans come from the driver the configured database uses; connections made from now on."""
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if "sqlite" in engine:
        from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor

        SQLite3Instrumentor().instrument(tracer_provider=provider)
    elif "mysql" in engine:
        from opentelemetry.instrumentation.mysqlclient import MySQLClientInstrumentor

        MySQLClientInstrumentor().instrument(tracer_provider=provider)
    elif "postgresql" in engine:
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

        PsycopgInstrumentor().instrument(tracer_provider=provider)
