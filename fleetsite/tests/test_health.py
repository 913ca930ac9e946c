"""Health, version, metrics and API-wide routing (fleet-protocol §4.10, §0.4)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from django.test import Client

from fleetsite import health

pytestmark = pytest.mark.django_db


def test_healthz_is_ok_when_every_check_passes(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.parametrize("check", ["db", "mysql", "redis"])
def test_healthz_runs_one_named_check(client: Client, check: str) -> None:
    assert client.get("/healthz", {"check": check}).status_code == 200


def test_healthz_rejects_an_unknown_check(client: Client) -> None:
    response = client.get("/healthz", {"check": "kafka"})
    assert response.status_code == 400
    assert b"kafka" in response.content


def test_healthz_fails_when_the_database_check_raises(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise RuntimeError("database is down")

    monkeypatch.setitem(health.CHECKS, "db", broken)
    response = client.get("/healthz")
    assert response.status_code == 500
    assert b"database is down" not in response.content


def test_healthz_only_runs_the_requested_check(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise RuntimeError("database is down")

    monkeypatch.setitem(health.CHECKS, "db", broken)
    assert client.get("/healthz", {"check": "redis"}).status_code == 200
    assert client.get("/healthz", {"check": "db"}).status_code == 500


def test_version_returns_fleet_version_keys(client: Client, settings: Any) -> None:
    response = client.get("/version")
    assert response.status_code == 200
    body = orjson.loads(response.content)
    assert {"version", "branch", "revision", "go_version", "build_date", "build_user"} <= body.keys()
    assert body["version"].split("+")[0] == settings.FLEETSITE_VERSION


def test_version_under_the_rest_prefix_needs_a_user_as_in_fleet(client: Client) -> None:
    """fleetctl checks its token with it (fleetsite/tests/test_server_api.py has the signed-in side)."""
    assert client.get("/api/latest/fleet/version").status_code == 401


def test_metrics_serves_prometheus_text(client: Client) -> None:
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "http_requests_total" in text
    assert "fleetsite_agent_checkins_total" in text
    assert "fleetsite_enrolled_hosts" in text


def test_metrics_counts_enrolled_hosts(client: Client, ubuntu_host: Any) -> None:
    text = client.get("/metrics").content.decode()
    gauge = [line for line in text.splitlines() if line.startswith("fleetsite_enrolled_hosts ")]
    assert gauge == ["fleetsite_enrolled_hosts 1.0"]


def test_metrics_requires_basic_auth_when_credentials_are_configured(client: Client, settings: Any) -> None:
    settings.FLEETSITE_METRICS_USERNAME = "prom"
    settings.FLEETSITE_METRICS_PASSWORD = "scrape-me"
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert b"http_requests_total" not in response.content


def test_metrics_accepts_the_configured_basic_auth(client: Client, settings: Any) -> None:
    settings.FLEETSITE_METRICS_USERNAME = "prom"
    settings.FLEETSITE_METRICS_PASSWORD = "scrape-me"
    credentials = base64.b64encode(b"prom:scrape-me").decode()
    response = client.get("/metrics", headers={"Authorization": f"Basic {credentials}"})
    assert response.status_code == 200
    assert b"http_requests_total" in response.content


@pytest.mark.parametrize("pair", [b"prom:wrong", b"other:scrape-me", b"prom", b""])
def test_metrics_rejects_wrong_basic_auth(client: Client, settings: Any, pair: bytes) -> None:
    settings.FLEETSITE_METRICS_USERNAME = "prom"
    settings.FLEETSITE_METRICS_PASSWORD = "scrape-me"
    credentials = base64.b64encode(pair).decode()
    assert client.get("/metrics", headers={"Authorization": f"Basic {credentials}"}).status_code == 401


def test_metrics_rejects_malformed_basic_auth(client: Client, settings: Any) -> None:
    settings.FLEETSITE_METRICS_USERNAME = "prom"
    settings.FLEETSITE_METRICS_PASSWORD = "scrape-me"
    assert client.get("/metrics", headers={"Authorization": "Basic %%%not-base64"}).status_code == 401


def test_openapi_schema_is_served(client: Client) -> None:
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"openapi" in response.content
    assert b"/api/latest/fleet/hosts" in response.content


def test_unknown_rest_path_is_a_json_404_in_fleet_shape(client: Client) -> None:
    response = client.get("/api/latest/fleet/nope")
    assert response.status_code == 404
    body = orjson.loads(response.content)
    assert body["message"] == "Resource Not Found"
    assert body["errors"][0]["name"] == "base"
