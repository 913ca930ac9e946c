"""GitOps round trip: what `fleetctl get --yaml` reads from a populated server, applied to an emptied
one with `fleetctl apply`, gives back the same specs (issue 19's acceptance).
"""

from __future__ import annotations

from typing import Any

import pytest

from conftest import APIClient
from enrollment.models import EnrollSecret
from hosts.models import Label
from queries.models import Pack, Query

pytestmark = pytest.mark.django_db

BASE = "/api/latest/fleet"


def _specs(api: APIClient) -> dict[str, Any]:
    """Every spec kind fleetctl reads back with `get --yaml`, as the server answers them."""
    answers = {
        kind: api.get(f"{BASE}/spec/{kind}")
        for kind in ("labels", "queries", "packs", "enroll_secret")
    }  # fmt: skip
    for kind, answer in answers.items():
        assert answer.status_code == 200, (kind, answer.content)
    team_queries = api.get(f"{BASE}/spec/queries", {"team_id": _team_id(api)})
    return _without_assigned(
        {
            "labels": sorted(answers["labels"].json()["specs"], key=lambda spec: spec["name"]),
            "queries": sorted(answers["queries"].json()["specs"], key=lambda spec: spec["name"]),
            "team_queries": sorted(team_queries.json()["specs"], key=lambda spec: spec["name"]),
            "packs": sorted(answers["packs"].json()["specs"], key=lambda spec: spec["name"]),
            "enroll_secret": answers["enroll_secret"].json()["spec"],
        }
    )


# What the server assigns, not what a spec says: a rebuilt server has new ones.
_ASSIGNED = {"id", "created_at", "updated_at", "query_id", "pack_id", "label_id"}


def _without_assigned(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_assigned(item) for key, item in value.items() if key not in _ASSIGNED}
    if isinstance(value, list):
        return [_without_assigned(item) for item in value]
    return value


def _team_id(api: APIClient) -> int:
    return api.get(f"{BASE}/teams").json()["teams"][0]["id"]


def _apply(api: APIClient, path: str, body: dict[str, Any]) -> None:
    response = api.post(f"{BASE}/{path}", body)
    assert response.status_code == 200, (path, response.content)


def test_specs_read_from_a_server_rebuild_it_exactly(api: APIClient, team: Any) -> None:
    _apply(api, "spec/labels", {"specs": [
        {"name": "Macs", "query": "SELECT 1 FROM os_version WHERE platform = 'darwin';", "platform": "darwin",
         "description": "every Mac", "label_membership_type": "dynamic"},
    ]})  # fmt: skip
    _apply(api, "spec/queries", {"specs": [
        {"name": "Uptime", "query": "SELECT * FROM uptime;", "interval": 3600, "logging": "snapshot",
         "description": "how long hosts are up", "observer_can_run": True},
        {"name": "USB devices", "query": "SELECT * FROM usb_devices;", "interval": 600, "team": team.name},
    ]})  # fmt: skip
    _apply(api, "spec/packs", {"specs": [
        {"name": "Baseline", "description": "legacy pack", "targets": {"labels": ["Macs"]},
         "queries": [{"query": "Uptime", "name": "uptime-hourly", "interval": 3600}]},
    ]})  # fmt: skip
    _apply(api, "spec/enroll_secret", {"spec": {"secrets": [{"secret": "round-trip-secret"}]}})
    before = _specs(api)
    assert [spec["name"] for spec in before["queries"]] == ["Uptime"]
    assert [spec["name"] for spec in before["team_queries"]] == ["USB devices"]

    # An empty server (the team stays: teams travel in their own spec).
    Pack.objects.all().delete()
    Query.objects.all().delete()
    Label.objects.filter(name="Macs").delete()
    EnrollSecret.objects.all().delete()
    assert _specs(api)["queries"] == [] and _specs(api)["packs"] == []

    _apply(api, "spec/labels", {"specs": before["labels"]})
    _apply(api, "spec/queries", {"specs": before["queries"] + before["team_queries"]})
    _apply(api, "spec/packs", {"specs": before["packs"]})
    _apply(api, "spec/enroll_secret", {"spec": before["enroll_secret"]})
    assert _specs(api) == before


def test_built_in_labels_pass_through_unchanged_but_cannot_be_changed(api: APIClient) -> None:
    builtin = next(spec for spec in api.get(f"{BASE}/spec/labels").json()["specs"] if spec["name"] == "All Hosts")
    _apply(api, "spec/labels", {"specs": [builtin]})
    changed = api.post(f"{BASE}/spec/labels", {"specs": [{**builtin, "query": "SELECT 2;"}]})
    assert changed.status_code == 422
    assert changed.json()["errors"][0]["reason"] == "cannot modify or add built-in label 'All Hosts'"
    assert Label.objects.get(name="All Hosts").query == builtin["query"]
