"""Agent payload fixtures: real-shaped osquery and orbit bodies per platform (STYLE 7.4)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from accounts.models import User
from hosts.models import Host, Label, LabelMembership
from queries.models import Campaign, CampaignResult, Policy, PolicyMembership, Query

PAYLOADS = Path(__file__).parent / "payloads"


def payload(name: str, **replace: Any) -> dict[str, Any]:
    """A payload file as a dict, with top-level keys replaced."""
    data = json.loads((PAYLOADS / f"{name}.json").read_text())
    data.update(copy.deepcopy(replace))
    return data


READ = "/api/osquery/distributed/read"


def detail_write(enrolled: EnrolledHost, **changes: Any) -> dict[str, Any]:
    """A distributed/write body answering an Ubuntu host's detail queries (`queries`/`statuses` merged in)."""
    body = payload("distributed_write_ubuntu")
    body["queries"].update(changes.pop("queries", {}))
    body["statuses"].update(changes.pop("statuses", {}))
    body.update(changes)
    return enrolled.body(**body)


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


@dataclass
class CompanionAnswers:
    """A label, a policy and a live query a host answers beside whatever a test sends.

    One bad answer in a distributed/write must not cost these (issue 12 finding 5).
    """

    enrolled: EnrolledHost
    label: Label
    policy: Policy
    campaign: Campaign

    @property
    def campaign_query(self) -> str:
        return f"fleet_distributed_query_{self.campaign.pk}"

    @property
    def queries(self) -> dict[str, list[dict[str, str]]]:
        return {
            f"fleet_label_query_{self.label.pk}": [{"1": "1"}],
            f"fleet_policy_query_{self.policy.pk}": [{"1": "1"}],
            self.campaign_query: [{"version": "5.12.1"}],
        }

    def assert_stored(self) -> None:
        host = self.enrolled.host
        assert LabelMembership.objects.filter(host=host, label=self.label).exists()
        assert PolicyMembership.objects.get(host=host, policy=self.policy).passes is True
        assert CampaignResult.objects.get(host=host, campaign=self.campaign).rows == [{"version": "5.12.1"}]


@pytest.fixture
def companion_answers(admin: User, ubuntu_host: EnrolledHost) -> CompanionAnswers:
    from queries import campaigns

    label = Label.objects.create(name="Has osquery", query="SELECT 1 FROM osquery_info;")
    policy = Policy.objects.create(name="Always", query="SELECT 1;")
    query = Query.objects.create(name="adhoc", query="SELECT 1;", saved=False)
    campaign = campaigns.start(admin, query, {"hosts": [ubuntu_host.host.pk]})
    return CompanionAnswers(ubuntu_host, label, policy, campaign)
