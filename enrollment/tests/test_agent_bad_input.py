"""Bad input on every agent endpoint: the right 4xx, the endpoint's error shape, nothing written."""

from __future__ import annotations

import gzip

import pytest
from django.test import Client

from carves.models import Carve, CarveBlock
from hosts.models import Host, HostSoftware, HostUser, LabelMembership

OSQUERY = [
    "/api/osquery/enroll", "/api/osquery/config", "/api/osquery/log", "/api/osquery/distributed/read",
    "/api/osquery/distributed/write", "/api/osquery/carve/begin", "/api/osquery/carve/block",
    "/api/v1/osquery/enroll", "/api/v1/osquery/distributed/write",
]  # fmt: skip
ORBIT = ["/api/fleet/orbit/enroll", "/api/fleet/orbit/config", "/api/fleet/orbit/device_token"]

BAD_BODIES = {
    "malformed JSON": (b'{"node_key": ', 400),
    "not an object": (b'["node_key"]', 400),
    "a bare string": (b'"hello"', 400),
    "not UTF-8": (b'{"node_key": "\xc3\x28"}', 400),
    "empty": (b"", 400),
    "broken gzip": (b"\x1f\x8b\x08\x00garbage", 400),
}


def _snapshot() -> tuple[int, ...]:
    return tuple(model.objects.count() for model in (Host, HostUser, HostSoftware, LabelMembership, Carve, CarveBlock))


def _assert_shape(path: str, body: dict) -> None:
    if "/osquery/" in path:
        assert isinstance(body["error"], str) and body["error"]
        assert "node_invalid" not in body
    else:
        assert set(body) == {"message", "errors"}
        assert body["errors"][0]["name"] == "base"


@pytest.mark.parametrize("path", OSQUERY + ORBIT)
@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_bodies_get_a_4xx_in_the_endpoint_shape_and_write_nothing(agent, ubuntu_host, path, case):
    raw, status = BAD_BODIES[case]
    before = _snapshot()
    response = agent.post(path, None, raw=raw)
    assert response.status_code == status, response.content
    _assert_shape(path, response.json())
    assert _snapshot() == before


@pytest.mark.parametrize("path", OSQUERY + ORBIT)
def test_oversize_bodies_are_413(agent, ubuntu_host, settings, path):
    settings.FLEETSITE_AGENT_MAX_BODY = 1024
    response = agent.post(path, {"node_key": ubuntu_host.node_key, "pad": "x" * 2048})
    assert response.status_code == 413
    _assert_shape(path, response.json())


@pytest.mark.parametrize("path", OSQUERY + ORBIT)
def test_gzip_bombs_are_413(agent, ubuntu_host, settings, path):
    settings.FLEETSITE_AGENT_MAX_BODY = 4096
    bomb = gzip.compress(b'{"pad": "' + b"0" * 1_000_000 + b'"}')
    response = agent.post(path, None, raw=bomb, **{"Content-Encoding": "gzip"})
    assert response.status_code == 413


@pytest.mark.parametrize("path", OSQUERY + ORBIT)
def test_get_is_405(db, path):
    response = Client().get(path)
    assert response.status_code == 405
    _assert_shape(path, response.json())


@pytest.mark.parametrize(
    "path",
    ["/api/osquery/config", "/api/osquery/log", "/api/osquery/distributed/read", "/api/osquery/distributed/write",
     "/api/osquery/carve/begin"],
)  # fmt: skip
@pytest.mark.parametrize("key", ["", "unknown-key", None, 5, ["a"]])
def test_node_key_endpoints_reject_bad_keys_with_node_invalid(agent, ubuntu_host, path, key):
    before = _snapshot()
    body = {"log_type": "status", "data": [], "block_count": 1, "block_size": 1, "carve_size": 1}
    if key is not None:
        body["node_key"] = key
    response = agent.post(path, body)
    assert response.status_code == 401
    assert response.json()["node_invalid"] is True
    assert _snapshot() == before
