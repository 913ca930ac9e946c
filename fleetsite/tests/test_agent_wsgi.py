"""The lean agent path (`fleetsite.agent_wsgi`) answers exactly what Django's full handler answers."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.utils import timezone

from enrollment.tests.fixtures import detail_write
from fleetsite.agent_wsgi import AgentWSGI, fixed_agent_routes
from fleetsite.metrics import REQUESTS
from fleetsite.wsgi_bridge import environ_for
from hosts.models import Host

READ = "/api/osquery/distributed/read"


class Answer:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.headers, self.body = status, dict(headers), body


def call(app: Any, method: str, path: str, body: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None,
         client: str = "127.0.0.1") -> Answer:  # fmt: skip
    scope = {
        "method": method, "path": path, "query_string": b"", "server": ("testserver", 80), "client": (client, 5000),
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *(headers or [])],
    }  # fmt: skip
    started: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started.update(status=status, headers=response_headers)

    result = app(environ_for(scope, body), start_response)
    try:
        payload = b"".join(result)
    finally:
        result.close()
    return Answer(started["status"], started["headers"], payload)


@pytest.fixture
def apps(transactional_db: None) -> tuple[AgentWSGI, WSGIHandler]:
    """Both apps, called as a server calls them: with the request signals, so outside a test transaction."""
    django_app = WSGIHandler()
    return AgentWSGI(django_app), django_app


def assert_same(lean: Answer, full: Answer) -> None:
    assert (lean.status, lean.body) == (full.status, full.body)
    assert lean.headers.pop("Content-Length") == str(len(lean.body))  # uvicorn would send the others chunked
    full.headers.pop("Content-Length", None)
    assert lean.headers == full.headers


def test_every_fixed_agent_path_is_served_and_parameterized_ones_are_left_to_django():
    routes = fixed_agent_routes()
    for path in ("/api/osquery/config", "/api/v1/osquery/distributed/read", "/api/osquery/log",
                 "/api/fleet/orbit/config", "/api/fleet/orbit/ping", "/api/fleet/device/ping"):  # fmt: skip
        assert path in routes
    assert not any("<" in path or "yara" in path or "/fleet/device/" in path.removesuffix("/ping") for path in routes)


@pytest.mark.parametrize(
    ("method", "path", "body", "headers"),
    [
        ("POST", READ, orjson.dumps({"node_key": "nope"}), []),  # 401 node_invalid
        ("POST", READ, b"{not json", []),
        ("POST", READ, b"", []),
        ("GET", READ, b"", []),  # 405 in the osquery family
        ("POST", READ, gzip.compress(orjson.dumps({"node_key": "nope"}), mtime=0), [(b"content-encoding", b"gzip")]),
        ("POST", "/api/fleet/orbit/config", orjson.dumps({"orbit_node_key": "nope"}), []),
        ("PUT", "/api/fleet/orbit/config", b"{}", []),  # 405 in the REST family
        ("HEAD", "/api/fleet/orbit/ping", b"", []),
        ("GET", "/api/fleet/device/ping", b"", []),
        ("POST", "/api/osquery/enroll", orjson.dumps({"enroll_secret": "wrong", "host_identifier": "x"}), []),
    ],
)
def test_errors_and_pings_are_the_same_as_djangos(apps, method, path, body, headers):
    lean, full = apps
    assert_same(call(lean, method, path, body, headers), call(full, method, path, body, headers))


def test_check_ins_are_the_same_as_djangos_and_cost_one_query(apps, agent, ubuntu_host, django_assert_max_num_queries):
    lean, full = apps
    agent.json("/api/osquery/distributed/write", detail_write(ubuntu_host))
    Host.objects.filter(pk=ubuntu_host.host.pk).update(label_updated_at=timezone.now())
    body = orjson.dumps(ubuntu_host.body())
    for path in (READ, "/api/v1/osquery/config"):
        full_answer = call(full, "POST", path, body)
        with django_assert_max_num_queries(1):
            lean_answer = call(lean, "POST", path, body)
        assert lean_answer.status == "200 OK"
        assert_same(lean_answer, full_answer)


def test_metrics_count_lean_requests_under_their_route(apps, ubuntu_host):
    lean, _ = apps
    counter = REQUESTS.labels("/api/osquery/distributed/read", "POST", "200")
    before = counter._value.get()
    call(lean, "POST", READ, orjson.dumps(ubuntu_host.body()))
    assert counter._value.get() == before + 1


def test_the_client_address_reaches_the_view(apps, agent, ubuntu_host):
    lean, _ = apps
    agent.json(READ, ubuntu_host.body())
    answer = call(lean, "POST", "/api/osquery/distributed/write", orjson.dumps(detail_write(ubuntu_host)),
                  client="203.0.113.9")  # fmt: skip
    assert answer.status == "200 OK"
    assert ubuntu_host.refresh().public_ip == "203.0.113.9"


def test_an_unexpected_error_gets_djangos_500_answer(apps, ubuntu_host, monkeypatch, caplog):
    lean, full = apps

    def broken(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("enrollment.agent.osquery.host_queries", broken)
    body = orjson.dumps(ubuntu_host.body())
    full_answer = call(full, "POST", READ, body)
    caplog.clear()
    lean_answer = call(lean, "POST", READ, body)
    assert lean_answer.status.startswith("500")
    assert_same(lean_answer, full_answer)
    assert any(record.name == "django.request" and record.exc_info for record in caplog.records)


def test_other_paths_go_to_django(apps):
    lean, full = apps
    lean_answer, full_answer = (call(app, "GET", "/api/latest/fleet/version") for app in (lean, full))
    assert lean_answer.status == full_answer.status == "401 Unauthorized"
    assert (lean_answer.headers, lean_answer.body) == (full_answer.headers, full_answer.body)
