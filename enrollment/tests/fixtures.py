"""Agent payload fixtures: real-shaped osquery and orbit bodies per platform (STYLE 7.4)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hosts.models import Host

PAYLOADS = Path(__file__).parent / "payloads"


def payload(name: str, **replace: Any) -> dict[str, Any]:
    """A payload file as a dict, with top-level keys replaced."""
    data = json.loads((PAYLOADS / f"{name}.json").read_text())
    data.update(copy.deepcopy(replace))
    return data


@dataclass
class EnrolledHost:
    host: Host
    node_key: str

    def body(self, **extra: Any) -> dict[str, Any]:
        return {"node_key": self.node_key, **extra}

    def refresh(self) -> Host:
        self.host.refresh_from_db()
        return self.host


@pytest.fixture
def enroll_host(agent: Any, enroll_secret: str) -> Callable[..., EnrolledHost]:
    """Enroll a host from a payload file (default Ubuntu) through the real endpoint."""

    def enroll(name: str = "enroll_ubuntu", secret: str | None = None, **replace: Any) -> EnrolledHost:
        body = payload(name, enroll_secret=secret or enroll_secret, **replace)
        node_key = agent.json("/api/osquery/enroll", body)["node_key"]
        host = Host.objects.get(osquery_host_id=replace.get("host_identifier", body["host_identifier"]))
        return EnrolledHost(host=host, node_key=node_key)

    return enroll


@pytest.fixture
def ubuntu_host(enroll_host: Callable[..., EnrolledHost]) -> EnrolledHost:
    return enroll_host()
