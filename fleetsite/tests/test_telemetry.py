"""OpenTelemetry: off by default, on through the standard variables, one trace per check-in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from fleetsite import telemetry
from fleetsite.liveserver import BASE_DIR, isolated_database_url


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_tracing_follows_the_standard_variables(environ: dict[str, str], expected: bool) -> None:
    assert telemetry.tracing_requested(environ) is expected


def test_tracing_is_off_by_default() -> None:
    assert not any("opentelemetry" in entry for entry in settings.MIDDLEWARE)


def test_an_agent_check_in_is_one_trace_with_its_sql_spans(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(
        FLEETSITE_DATA_DIR=str(tmp_path),
        DATABASE_URL=isolated_database_url(os.environ.get("DATABASE_URL", ""), tmp_path, "otel"),
        DJANGO_SETTINGS_MODULE="fleetsite.settings",
    )
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "fleetsite.tests.otel_checkin"],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    spans = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len({span["trace_id"] for span in spans}) == 1, "the check-in is one trace"
    (request,) = [span for span in spans if span["kind"] == "SERVER"]
    assert request["parent_id"] is None
    assert request["name"] == "POST api/v1/osquery/distributed/read"
    sql = [span for span in spans if span["statement"]]
    assert sql, "the check-in's SQL is traced"
    assert all(span["parent_id"] == request["span_id"] for span in sql), "SQL spans hang under the request"
    assert any("host" in span["statement"].lower() for span in sql)
