"""User packs in the osquery config: sent to the hosts they target, at a constant SQL cost per check-in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import Team
from conftest import APIClient
from hosts.models import Label, LabelMembership
from queries.models import Pack, PackQuery, Query

pytestmark = pytest.mark.django_db

CONFIG = "/api/osquery/config"


def _packs(agent: Any, enrolled: Any) -> dict[str, Any]:
    return agent.json(CONFIG, enrolled.body()).get("packs", {})


@pytest.fixture
def audit() -> Pack:
    pack = Pack.objects.create(name="audit", platform="linux")
    query = Query.objects.create(name="users", query="SELECT * FROM users")
    PackQuery.objects.create(pack=pack, query=query, name="all users", interval=300, snapshot=True, shard=50)
    return pack


AUDIT = {
    "platform": "linux",
    "queries": {"all users": {"query": "SELECT * FROM users", "interval": 300, "shard": 50, "snapshot": True}},
}


def test_a_targeted_host_gets_the_pack_and_an_untargeted_one_does_not(
    agent: Any, enroll_host: Callable[..., Any], audit: Pack
) -> None:
    targeted = enroll_host(host_identifier="targeted")
    untargeted = enroll_host(host_identifier="untargeted")
    audit.hosts.add(targeted.host)
    assert _packs(agent, targeted) == {"audit": AUDIT}
    assert "audit" not in _packs(agent, untargeted)


def test_packs_reach_hosts_by_label_and_by_team(
    agent: Any, enroll_host: Callable[..., Any], team_secret: str, team: Team, audit: Pack
) -> None:
    labelled = enroll_host(host_identifier="labelled")
    on_team = enroll_host(host_identifier="on-team", secret=team_secret)
    label = Label.objects.create(name="servers", query="SELECT 1")
    audit.labels.add(label)
    assert _packs(agent, labelled) == {}
    LabelMembership.objects.create(label=label, host=labelled.host)  # membership is read live, never cached
    assert _packs(agent, labelled) == {"audit": AUDIT}
    assert "audit" not in _packs(agent, on_team)
    audit.teams.add(team)
    assert _packs(agent, on_team)["audit"] == AUDIT


def test_changes_through_the_api_reach_the_next_config(
    agent: Any, enroll_host: Callable[..., Any], api: APIClient, audit: Pack
) -> None:
    enrolled = enroll_host()
    api.patch(f"/api/latest/fleet/packs/{audit.pk}", {"host_ids": [enrolled.host.pk]})
    assert "audit" in _packs(agent, enrolled)
    api.patch(f"/api/latest/fleet/packs/{audit.pk}", {"disabled": True})
    assert "audit" not in _packs(agent, enrolled)
    api.patch(f"/api/latest/fleet/packs/{audit.pk}", {"disabled": False})
    scheduled = audit.scheduled.get()
    api.patch(f"/api/latest/fleet/packs/schedule/{scheduled.pk}", {"interval": 900})
    assert _packs(agent, enrolled)["audit"]["queries"]["all users"]["interval"] == 900
    query_id = scheduled.query_id
    api.patch(f"/api/latest/fleet/queries/{query_id}", {"query": "SELECT uid FROM users"})
    assert _packs(agent, enrolled)["audit"]["queries"]["all users"]["query"] == "SELECT uid FROM users"
    api.delete(f"/api/latest/fleet/packs/schedule/{scheduled.pk}")
    assert "audit" not in _packs(agent, enrolled)  # a pack with no queries is not sent


def test_the_global_schedule_and_user_packs_are_sent_side_by_side(
    agent: Any, enroll_host: Callable[..., Any], audit: Pack
) -> None:
    enrolled = enroll_host()
    audit.hosts.add(enrolled.host)
    Query.objects.create(name="uptime", query="SELECT * FROM uptime", interval=60, automations_enabled=True)
    assert set(_packs(agent, enrolled)) == {"Global", "audit"}


@pytest.mark.parametrize("packs", [1, 30])
def test_config_with_label_targeted_packs_costs_constant_queries(
    agent: Any, enroll_host: Callable[..., Any], django_assert_max_num_queries: Any, packs: int
) -> None:
    enrolled = enroll_host()
    label = Label.objects.create(name="servers", query="SELECT 1")
    LabelMembership.objects.create(label=label, host=enrolled.host)
    query = Query.objects.create(name="users", query="SELECT 1")
    for index in range(packs):
        pack = Pack.objects.create(name=f"pack-{index}")
        PackQuery.objects.create(pack=pack, query=query, name="q", interval=60)
        pack.labels.add(label)
    agent.json(CONFIG, enrolled.body())  # warms the caches
    with django_assert_max_num_queries(2):  # the node key, and the host's memberships of targeted labels
        assert len(agent.json(CONFIG, enrolled.body())["packs"]) == packs
