"""The OpenAPI schema documents every REST operation once, with no generator errors or warnings.

An operation drf-spectacular cannot describe is left out of /api/schema/, so clients cannot see
it and schemathesis (test_schemathesis.py) never sends it a request.
"""

from __future__ import annotations

from typing import Any

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

from fleetsite.api.schema import drop_route_aliases

LATEST = "/api/latest/fleet"


@pytest.fixture(scope="module")
def generated() -> tuple[dict[str, Any], bool]:
    """The schema, and whether generating it reported any error or warning."""
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    return schema, bool(GENERATOR_STATS)


def test_schema_generates_without_errors_or_warnings(generated: tuple[dict[str, Any], bool]) -> None:
    _, reported = generated
    assert not reported, "run `manage.py spectacular --file /dev/null` to see what drf-spectacular reports"


@pytest.mark.parametrize(
    ("path", "method"),
    [
        (f"{LATEST}/queries/run", "post"),
        (f"{LATEST}/queries/run", "get"),
        (f"{LATEST}/queries/run_by_identifiers", "post"),
        (f"{LATEST}/queries/{{query_id}}/run", "post"),
        (f"{LATEST}/campaigns/{{campaign_id}}/results", "get"),
        (f"{LATEST}/campaigns/{{campaign_id}}/stop", "post"),
        (f"{LATEST}/hosts/{{host_id}}/refetch", "post"),
        (f"{LATEST}/reset_password", "post"),
        ("/api/packager/create", "post"),
        ("/api/packager/status", "get"),
        ("/api/packager/download/{package_id}", "get"),
    ],
)
def test_operation_is_documented_with_its_bodies(
    generated: tuple[dict[str, Any], bool], path: str, method: str
) -> None:
    operation = generated[0]["paths"][path][method]
    # Fleet's empty `{}` success is documented as no body (fleetsite.api.schema.EMPTY).
    bodies = operation["responses"]["200"].get("content", {})
    assert all("schema" in body for body in bodies.values())


def test_untyped_answers_now_name_their_keys(generated: tuple[dict[str, Any], bool]) -> None:
    components = generated[0]["components"]["schemas"]
    assert "online_count" in components["HostSummary"]["properties"]
    assert "server_settings" in components["AppConfig"]["properties"]


def test_fleet_48_alias_routes_are_documented_once(generated: tuple[dict[str, Any], bool]) -> None:
    paths = generated[0]["paths"]
    assert f"{LATEST}/teams/{{team_id}}" in paths
    assert f"{LATEST}/queries/{{query_id}}/run" in paths
    assert not [path for path in paths if "/fleets" in path or "/reports" in path]


def test_alias_hook_keeps_a_new_word_route_that_has_no_old_word_twin() -> None:
    endpoints = [
        ("/api/fleet/teams/{team_id}", "", "GET", None),
        ("/api/fleet/fleets/{team_id}", "", "GET", None),
        ("/api/fleet/reports/{report_id}/rows", "", "GET", None),
        ("/api/fleet/queries", "", "GET", None),
        ("/api/fleet/reports", "", "POST", None),
    ]
    kept = [(path, method) for path, _, method, _ in drop_route_aliases(endpoints)]
    assert kept == [
        ("/api/fleet/teams/{team_id}", "GET"),
        ("/api/fleet/reports/{report_id}/rows", "GET"),
        ("/api/fleet/queries", "GET"),
        ("/api/fleet/reports", "POST"),
    ]


def test_operation_ids_are_unique(generated: tuple[dict[str, Any], bool]) -> None:
    ids = [operation["operationId"] for item in generated[0]["paths"].values() for operation in item.values()]
    assert len(ids) == len(set(ids))


def test_the_synchronous_run_documents_its_get_body(generated: tuple[dict[str, Any], bool]) -> None:
    """Fleet's `GET /queries/run` reads `query_ids` and `host_ids` from a JSON body."""
    body = generated[0]["paths"][f"{LATEST}/queries/run"]["get"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/SyncRun")
