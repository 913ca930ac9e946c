"""Software list sort keys: each list offers only the keys its rows have (finding 7)."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from conftest import APIClient
from hosts.models import Host, HostSoftware, Software

BASE = "/api/latest/fleet"


@pytest.fixture
def installed(db: None) -> None:
    host = Host.objects.create(hostname="web-1", osquery_host_id="web-1")
    for version, checksum in (("7", "a"), ("8", "b")):
        HostSoftware.objects.create(
            host=host, software=Software.objects.create(name="curl", version=version, source="deb", checksum=checksum)
        )


def test_titles_refuse_the_version_key_with_a_400_that_lists_the_valid_keys(api: APIClient, installed: None) -> None:
    """A title has many versions, so it cannot be sorted by one; the error must not offer `version`."""
    response = api.get(f"{BASE}/software/titles", {"order_key": "version"})
    assert response.status_code == 400, response.content[:300]
    reason = response.json()["errors"][0]["reason"]
    assert "version" not in reason.split(":", 1)[1], reason
    assert api.get(f"{BASE}/software/titles", {"order_key": "name"}).json()["count"] == 1


def test_versions_sort_by_version(api: APIClient, installed: None) -> None:
    response = api.get(f"{BASE}/software/versions", {"order_key": "version", "order_direction": "desc"})
    assert [row["version"] for row in response.json()["software"]] == ["8", "7"]


def test_software_page_sorted_by_version_is_not_a_server_error(admin: User, installed: None) -> None:
    """The UI page shares the title query; an unknown sort key falls back to the default order."""
    client = Client()
    client.force_login(admin)
    assert client.get("/software/", {"order_key": "version"}).status_code == 200
