"""Fleet's deprecated `GET /software`, `/software/{id}` and `/software/count` (the versions list under its old name)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from accounts.models import Team, User
from conftest import APIClient
from hosts.models import Host, HostSoftware, Software

BASE = "/api/latest/fleet"


@pytest.fixture
def inventory(team: Team, other_team: Team) -> dict[str, Software]:
    """curl on a team A host and a team-less host; vim only on team B."""
    a = Host.objects.create(osquery_host_id="a", hostname="a", team=team)
    free = Host.objects.create(osquery_host_id="n", hostname="n")
    b = Host.objects.create(osquery_host_id="b", hostname="b", team=other_team)
    curl = Software.objects.create(name="curl", version="8", source="deb_packages", checksum="c")
    vim = Software.objects.create(name="vim", version="9", source="deb_packages", checksum="v")
    for host, software in ((a, curl), (free, curl), (b, vim)):
        HostSoftware.objects.create(host=host, software=software)
    return {"curl": curl, "vim": vim}


def test_list_has_software_and_counts_updated_at(api: APIClient, inventory: dict) -> None:
    body = api.get(f"{BASE}/software").json()
    assert set(body) == {"software", "counts_updated_at"}
    assert [(s["name"], s["hosts_count"]) for s in body["software"]] == [("curl", 2), ("vim", 1)]
    assert set(body["software"][0]) >= {"id", "name", "version", "source", "hosts_count", "vulnerabilities"}
    assert api.get(f"{BASE}/software/count").json() == {"count": 2}


@pytest.mark.parametrize("key", ["team_id", "fleet_id"])
def test_team_filter_by_either_name(api: APIClient, inventory: dict, team: Team, key: str) -> None:
    body = api.get(f"{BASE}/software", {key: team.pk}).json()
    assert [(s["name"], s["hosts_count"]) for s in body["software"]] == [("curl", 1)]
    assert api.get(f"{BASE}/software/count", {key: team.pk}).json() == {"count": 1}
    assert api.get(f"{BASE}/software/count", {key: 0}).json() == {"count": 1}


def test_vulnerable_is_accepted_and_matches_nothing_yet(api: APIClient, inventory: dict) -> None:
    assert api.get(f"{BASE}/software", {"vulnerable": "true"}).json()["software"] == []
    assert api.get(f"{BASE}/software/count", {"vulnerable": "true"}).json() == {"count": 0}
    assert api.get(f"{BASE}/software/versions", {"vulnerable": "true"}).json()["count"] == 0
    assert len(api.get(f"{BASE}/software", {"vulnerable": "false"}).json()["software"]) == 2


def test_paging_and_order_happen_in_the_query(api: APIClient, inventory: dict) -> None:
    body = api.get(f"{BASE}/software", {"order_key": "name", "order_direction": "desc", "per_page": 1}).json()
    assert [s["name"] for s in body["software"]] == ["vim"]
    page = api.get(f"{BASE}/software", {"order_key": "name", "per_page": 1, "page": 1}).json()
    assert [s["name"] for s in page["software"]] == ["vim"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("software", {"order_key": "nope"}),
        ("software", {"per_page": "x"}),
        ("software", {"team_id": "x"}),
        ("software/count", {"order_key": "nope"}),
        ("software/count", {"team_id": "x"}),
    ],
)
def test_bad_input_is_400(api: APIClient, inventory: dict, path: str, params: dict) -> None:
    response = api.get(f"{BASE}/{path}", params)
    assert response.status_code == 400
    assert response.json()["message"] == "Bad request"


def test_team_user_sees_only_their_teams_software(
    observer: User, api_client_as: Callable[[User | None], APIClient], inventory: dict, other_team: Team
) -> None:
    client = api_client_as(observer)
    assert [s["name"] for s in client.get(f"{BASE}/software").json()["software"]] == ["curl"]
    assert client.get(f"{BASE}/software", {"team_id": other_team.pk}).status_code == 404
    assert client.get(f"{BASE}/software/{inventory['vim'].pk}").status_code == 404
    assert client.get(f"{BASE}/software/count").json() == {"count": 1}


def test_one_version_by_id(api: APIClient, inventory: dict) -> None:
    body = api.get(f"{BASE}/software/{inventory['curl'].pk}").json()
    assert body["software"]["name"] == "curl"
    assert body["software"]["hosts_count"] == 2
    assert api.get(f"{BASE}/software/999999").status_code == 404


def test_anonymous_is_401(db: None) -> None:
    assert Client().get(f"{BASE}/software").status_code == 401
    assert Client().get(f"{BASE}/software/count").status_code == 401
