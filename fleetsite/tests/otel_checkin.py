"""Run in a child process by test_telemetry: one osquery check-in traced into memory.

A child process because instrumentation must come before the first database connection and
before Django loads its middleware, which in the test process happened long ago. Prints the
finished spans of the check-in as JSON lines.
"""

from __future__ import annotations

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetsite.settings")


def main() -> None:
    django.setup()
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from fleetsite import telemetry

    memory = InMemorySpanExporter()
    if not telemetry.install([SimpleSpanProcessor(memory)]):
        sys.exit("tracing was already installed: the environment must not set OTEL_* variables")

    from django.core.management import call_command
    from django.test import Client

    from enrollment.models import EnrollSecret

    call_command("migrate", verbosity=0)
    EnrollSecret.objects.create(secret="otel-probe-secret")
    client = Client()
    enrolled = client.post(
        "/api/v1/osquery/enroll",
        {"enroll_secret": "otel-probe-secret", "host_identifier": "otel-probe", "host_details": {}},
        content_type="application/json",
    )
    node_key = enrolled.json()["node_key"]
    memory.clear()
    answer = client.post("/api/v1/osquery/distributed/read", {"node_key": node_key}, content_type="application/json")
    assert answer.status_code == 200, answer.content
    for span in memory.get_finished_spans():
        parent = span.parent.span_id if span.parent else None
        print(
            json.dumps(
                {
                    "name": span.name,
                    "kind": span.kind.name,
                    "trace_id": span.context.trace_id,
                    "span_id": span.context.span_id,
                    "parent_id": parent,
                    "statement": span.attributes.get("db.statement") or span.attributes.get("db.query.text"),
                }
            )
        )


if __name__ == "__main__":
    main()
