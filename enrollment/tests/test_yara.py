"""`POST /api/osquery/yara/{name}`: node-key checked, then Fleet's not-found (no YARA rules are stored)."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import AgentClient
from enrollment.tests.fixtures import EnrolledHost

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("prefix", ["/api/osquery", "/api/v1/osquery"])
def test_a_known_host_gets_fleets_not_found_for_any_rule(
    agent: AgentClient, ubuntu_host: EnrolledHost, prefix: str, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(2):
        body = agent.json(f"{prefix}/yara/malware.yar", ubuntu_host.body(), expect=404)
    assert body == {
        "message": "Resource Not Found",
        "errors": [{"name": "base", "reason": "YaraRule was not found in the datastore"}],
    }


def test_an_unknown_node_key_gets_401_node_invalid(agent: AgentClient) -> None:
    body = agent.json("/api/osquery/yara/malware.yar", {"node_key": "nope"}, expect=401)
    assert body["node_invalid"] is True
    assert agent.json("/api/osquery/yara/malware.yar", {}, expect=401)["node_invalid"] is True
    assert agent.client.get("/api/osquery/yara/malware.yar").status_code == 405
