"""Bad input on every agent endpoint: the right 4xx, the endpoint's error shape, nothing written."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
import pytest
from django.test import Client

from carves.models import Carve, CarveBlock
from enrollment.tests.fixtures import PAYLOADS, CompanionAnswers, payload
from hosts.models import Host, HostSoftware, HostUser, LabelMembership
from queries.models import Query

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


# --- A corpus of malformed requests (issue 12): never a 5xx, other answers kept -----------------

ENDPOINTS = {
    "enroll": "/api/osquery/enroll",
    "config": "/api/osquery/config",
    "log": "/api/osquery/log",
    "read": "/api/osquery/distributed/read",
    "write": "/api/osquery/distributed/write",
    "carve_begin": "/api/osquery/carve/begin",
    "carve_block": "/api/osquery/carve/block",
    "orbit_enroll": "/api/fleet/orbit/enroll",
    "orbit_config": "/api/fleet/orbit/config",
    "device_token": "/api/fleet/orbit/device_token",
}
CORPUS = orjson.loads((PAYLOADS / "malformed_agent_requests.json").read_bytes())["cases"]
LONG = "x" * 100_000
DEEP = 500  # parsed (orjson stops at 1,024 levels), deeper than orjson writes (255)
TOO_DEEP = 2_000  # refused by the parser


def _expand(value: Any, tokens: dict[str, Any]) -> Any:
    if isinstance(value, str):
        if value in tokens:
            return tokens[value]
        for token, replacement in tokens.items():
            if isinstance(replacement, str):
                value = value.replace(token, replacement)
        return value
    if isinstance(value, list):
        return [_expand(item, tokens) for item in value]
    if isinstance(value, dict):
        return {_expand(key, tokens): _expand(item, tokens) for key, item in value.items()}
    return value


def _raw_body(case: dict[str, Any], tokens: dict[str, Any]) -> bytes:
    if "raw" in case:
        text = case["raw"]
        raw = ("[" * TOO_DEEP + "]" * TOO_DEEP if text == "<deep_raw>" else _expand(text, tokens)).encode()
    else:
        # Spliced in as text: orjson writes no deeper than 255 levels, the stdlib recurses.
        deep = b"[" * DEEP + b'"bottom"' + b"]" * DEEP
        raw = orjson.dumps(_expand(case["body"], tokens)).replace(b'"<deep>"', deep)
    if case.get("gzip"):
        raw = gzip.compress(raw)
        raw = {"truncated": raw[: len(raw) // 2], "trailing": raw + b"garbage"}.get(case["gzip"], raw)
    return raw


@pytest.fixture
def corpus_tokens(agent, ubuntu_host, enroll_secret) -> dict[str, Any]:
    orbit = agent.json(ENDPOINTS["orbit_enroll"], payload("orbit_enroll", enroll_secret=enroll_secret))
    Query.objects.create(name="report", query="SELECT 1;", saved=True)  # pack/Global/report stores rows
    return {
        "<node_key>": ubuntu_host.node_key,
        "<orbit_node_key>": orbit["orbit_node_key"],
        "<enroll_secret>": enroll_secret,
        "<long>": LONG,
    }


def _with_companions(raw: bytes, companions: CompanionAnswers) -> bytes:
    """Add the label, policy and live-query answers to a write body that has room for them."""
    try:
        body = orjson.loads(raw)
        orjson.dumps(body)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return raw
    if not isinstance(body, dict) or not isinstance(body.get("queries", {}), dict):
        return raw
    if not isinstance(body.get("statuses", {}), dict):
        return raw
    body.setdefault("queries", {}).update(companions.queries)
    body.setdefault("statuses", {}).update(dict.fromkeys(companions.queries, 0))
    return orjson.dumps(body)


@pytest.mark.parametrize("case", CORPUS, ids=[case["name"] for case in CORPUS])
def test_malformed_agent_requests_never_get_a_5xx(agent, corpus_tokens, companion_answers, case):
    raw = _raw_body(case, corpus_tokens)
    companions = case["endpoint"] == "write" and not case.get("gzip")
    if companions:
        raw = _with_companions(raw, companion_answers)
    path = ENDPOINTS[case["endpoint"]]
    response = agent.post(path, None, raw=raw)
    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        _assert_shape(path, response.json()) if response.status_code != 401 else None
    elif companions and b"fleet_label_query" in raw:
        companion_answers.assert_stored()


DEVICE_TOKENS = [LONG, "%00", "a%00b", "%C3%28", "..", "%2e%2e%2f", "\u00e9" * 300, "a" * 256]


@pytest.mark.parametrize("token", DEVICE_TOKENS)
@pytest.mark.parametrize("suffix", ["", "/ping", "/desktop", "/transparency", "/refetch"])
def test_malformed_device_tokens_are_401_never_5xx(agent, ubuntu_host, token, suffix):
    client = Client()
    path = f"/api/latest/fleet/device/{token}{suffix}"
    response = client.post(path) if suffix == "/refetch" else client.get(path)
    assert response.status_code in (401, 404), response.content[:300]


@pytest.mark.parametrize("method", ["get", "head", "post", "put"])
def test_orbit_ping_never_5xx(db, method):
    response = getattr(Client(), method)("/api/fleet/orbit/ping")
    assert response.status_code in (200, 405)
