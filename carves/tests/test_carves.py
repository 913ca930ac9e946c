"""File carving (fleet-protocol §1.6): begin checks, in-order blocks, reassembly."""

from __future__ import annotations

import base64

import pytest

from carves.models import Carve, CarveBlock

BEGIN = "/api/osquery/carve/begin"
BLOCK = "/api/osquery/carve/block"


def begin(agent, enrolled, expect=200, **overrides):
    body = {"block_count": 2, "block_size": 4, "carve_size": 7, "carve_id": "c-1", "request_id": "r-1", **overrides}
    return agent.json(BEGIN, enrolled.body(**body), expect=expect)


def block(agent, session_id, block_id, data, request_id="r-1", expect=200, **extra):
    body = {"block_id": block_id, "session_id": session_id, "request_id": request_id, **extra}
    body["data"] = base64.b64encode(data).decode()
    return agent.json(BLOCK, body, expect=expect)


def test_a_carve_uploads_in_order_and_downloads_whole(agent, ubuntu_host, api):
    started = begin(agent, ubuntu_host)
    assert started["success"] is True
    session = started["session_id"]
    carve = Carve.objects.get(session_id=session)
    assert carve.name.startswith("web-01.example.com-") and carve.name.endswith("-r-1")
    assert block(agent, session, 0, b"abcd") == {"success": True}
    assert block(agent, session, 1, b"efg") == {"success": True}
    listed = api.get("/api/latest/fleet/carves").json()["carves"]
    assert [c["session_id"] for c in listed] == [session]
    download = api.get(f"/api/latest/fleet/carves/{carve.pk}/download")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"abcdefg"
    assert api.get(f"/api/latest/fleet/carves/{carve.pk}/block/1").json() == {"data": base64.b64encode(b"efg").decode()}


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"carve_size": 0}, "carve_size must be greater than 0"),
        (
            {"block_size": 300 * 1024 * 1024, "carve_size": 300 * 1024 * 1024, "block_count": 1},
            "block_size exceeds max",
        ),
        ({"carve_size": 9 * 1024**3, "block_size": 8 * 1024 * 1024, "block_count": 1152}, "carve_size exceeds max"),
        ({"block_count": 3}, "carve_size does not match block_size and block_count"),
        ({"block_count": "2"}, "block_count must be an integer"),
    ],
)
def test_begin_rejects_inconsistent_sizes(agent, ubuntu_host, overrides, reason):
    assert reason in begin(agent, ubuntu_host, expect=400, **overrides)["error"]
    assert not Carve.objects.exists()


def test_begin_needs_a_node_key(agent, db):
    response = agent.json(BEGIN, {"node_key": "x", "block_count": 1, "block_size": 1, "carve_size": 1}, expect=401)
    assert response["node_invalid"] is True


def test_out_of_order_block_is_400_and_marks_the_carve(agent, ubuntu_host):
    session = begin(agent, ubuntu_host)["session_id"]
    assert "out of order" in block(agent, session, 1, b"efg", expect=400)["error"]
    assert "out of order" in Carve.objects.get().error
    assert not CarveBlock.objects.exists()


def test_oversize_block_is_400(agent, ubuntu_host):
    session = begin(agent, ubuntu_host)["session_id"]
    assert "larger than block_size" in block(agent, session, 0, b"abcdef", expect=400)["error"]


@pytest.mark.parametrize(
    ("session", "request_id", "extra"),
    [("unknown", "r-1", {}), (None, "wrong", {}), (None, "r-1", {"node_key": "sneaky"})],
)
def test_block_with_bad_credentials_is_401(agent, ubuntu_host, session, request_id, extra):
    real = begin(agent, ubuntu_host)["session_id"]
    body = block(agent, session or real, 0, b"abcd", request_id=request_id, expect=401, **extra)
    assert body["error"] == "Authentication failed"
    assert not CarveBlock.objects.exists()


def test_block_with_bad_base64_is_400(agent, ubuntu_host):
    session = begin(agent, ubuntu_host)["session_id"]
    body = {"block_id": 0, "session_id": session, "request_id": "r-1", "data": "!!!"}
    assert "base64" in agent.json(BLOCK, body, expect=400)["error"]


def test_incomplete_carve_cannot_be_downloaded(agent, ubuntu_host, api):
    session = begin(agent, ubuntu_host)["session_id"]
    block(agent, session, 0, b"abcd")
    carve = Carve.objects.get()
    response = api.get(f"/api/latest/fleet/carves/{carve.pk}/download")
    assert response.status_code == 400
    assert "incomplete" in response.json()["errors"][0]["reason"]


@pytest.mark.parametrize("role", ["outsider", "maintainer", "global_observer", "team_admin"])
def test_only_global_admins_read_carves(agent, ubuntu_host, api_client_as, request, role):
    """Fleet's permission table: retrieving carved contents is for global admins alone."""
    begin(agent, ubuntu_host)
    carve = Carve.objects.get()
    client = api_client_as(request.getfixturevalue(role))
    for path in ("carves", f"carves/{carve.pk}", f"carves/{carve.pk}/block/0"):
        assert client.get(f"/api/latest/fleet/{path}").status_code == 403, path
