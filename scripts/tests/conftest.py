"""Fixtures for script tests: an orbit-enrolled, online host and multipart helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.utils import timezone

from enrollment.tests.fixtures import payload
from hosts.models import Host

BASE = "/api/latest/fleet"
ORBIT = "/api/fleet/orbit"


@dataclass
class OrbitHost:
    """A host enrolled through orbit's real endpoint, with its key for agent calls."""

    key: str
    host: Host

    def refresh(self) -> Host:
        self.host.refresh_from_db()
        return self.host


def orbit_enroll(agent: Any, secret: str, **replace: Any) -> OrbitHost:
    response = agent.post(f"{ORBIT}/enroll", payload("orbit_enroll", enroll_secret=secret, **replace))
    assert response.status_code == 200, response.content
    host = Host.objects.get(uuid=replace.get("hardware_uuid", payload("orbit_enroll")["hardware_uuid"]))
    Host.objects.filter(pk=host.pk).update(online_until=timezone.now() + timedelta(hours=1))
    host.refresh_from_db()
    return OrbitHost(response.json()["orbit_node_key"], host)


@pytest.fixture
def orbit_host(agent: Any, team_secret: str) -> OrbitHost:
    """An online Ubuntu host of team A, enrolled through orbit."""
    return orbit_enroll(agent, team_secret)


def upload(client: Any, path: str, name: str, contents: bytes | str, method: str = "post", **fields: Any) -> Any:
    """A multipart request with a `script` file, as fleetctl and the UI send."""
    raw = contents.encode() if isinstance(contents, str) else contents
    data = {"script": SimpleUploadedFile(name, raw), **fields}
    if method == "post":
        return client.client.post(path, data, headers=client.headers)
    return client.client.generic(
        method.upper(), path, encode_multipart(BOUNDARY, data), content_type=MULTIPART_CONTENT, headers=client.headers
    )
