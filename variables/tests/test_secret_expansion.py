"""$FLEET_SECRET_ values reach hosts in the scripts fleetd fetches, and a variable in use cannot be deleted."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Team
from conftest import APIClient
from scripts.models import Script
from scripts.tests.conftest import BASE, ORBIT, orbit_enroll
from variables import service
from variables.models import SecretVariable

pytestmark = pytest.mark.django_db


@pytest.fixture
def orbit_host(agent: Any, team_secret: str) -> Any:
    """A host of team A enrolled through orbit (as in the scripts tests)."""
    return orbit_enroll(agent, team_secret)


def put_secret(api: APIClient, name: str, value: str) -> None:
    response = api._call("put", f"{BASE}/spec/secret_variables", {"secrets": [{"name": name, "value": value}]})
    assert response.status_code == 200


def test_fleetd_gets_the_script_with_secrets_filled_in_and_the_api_does_not(
    api: APIClient, agent: Any, orbit_host: Any, django_assert_max_num_queries: Any
) -> None:
    put_secret(api, "TOKEN", "abc123")
    contents = 'curl -H "X: $FLEET_SECRET_TOKEN" -H "Y: ${FLEET_SECRET_TOKEN}" $FLEET_SECRET_MISSING'
    run = api.post(f"{BASE}/scripts/run", {"host_id": orbit_host.host.pk, "script_contents": contents})
    assert run.status_code == 202, run.content
    execution_id = run.json()["execution_id"]
    body = {"orbit_node_key": orbit_host.key, "execution_id": execution_id}
    agent.json(f"{ORBIT}/scripts/request", body)  # warm caches
    with django_assert_max_num_queries(3):
        fetched = agent.json(f"{ORBIT}/scripts/request", body)
    assert fetched["script_contents"] == 'curl -H "X: abc123" -H "Y: abc123" $FLEET_SECRET_MISSING'
    assert "abc123" not in str(api.get(f"{BASE}/scripts/results/{execution_id}").json())


def test_expand_leaves_text_without_secrets_alone_without_a_query(django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        assert service.expand("echo $HOME") == "echo $HOME"


def test_a_variable_a_saved_script_uses_cannot_be_deleted(api: APIClient, team: Team) -> None:
    put_secret(api, "API_KEY", "k")
    put_secret(api, "API", "k")
    Script.objects.create(team=team, name="call.sh", contents="echo $FLEET_SECRET_API_KEY")
    used = SecretVariable.objects.get(name="API_KEY")
    response = api.delete(f"{BASE}/custom_variables/{used.pk}")
    assert response.status_code == 409
    assert '"call.sh" script in the "Team A" team' in response.json()["errors"][0]["reason"]
    # A name that is only a prefix of a used one is free to go.
    assert api.delete(f"{BASE}/custom_variables/{SecretVariable.objects.get(name='API').pk}").status_code == 200
