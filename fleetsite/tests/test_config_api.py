"""`GET/PATCH /config` (fleet-protocol §4.9) and agent-options validation."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from accounts.models import User
from activities.models import Activity
from conftest import APIClient
from fleetsite.lib import agent_options_check
from fleetsite.models import FleetConfig

pytestmark = pytest.mark.django_db
URL = "/api/latest/fleet/config"


def test_config_shape_and_agent_options_only_for_admins(
    api: APIClient, api_client_as: Callable, observer: User
) -> None:
    body = api.get(URL).json()
    assert {"org_info", "server_settings", "features", "agent_options", "update_interval", "license"} <= set(body)
    assert body["update_interval"]["osquery_detail"] == 3600 * 1_000_000_000
    assert "agent_options" not in api_client_as(observer).get(URL).json()


def test_patch_changes_only_what_is_given_and_records_it(api: APIClient) -> None:
    response = api.patch(
        URL, {"org_info": {"org_name": "Acme"}, "server_settings": {"server_url": "https://fleet.acme.io/"}}
    )
    assert response.status_code == 200
    config = FleetConfig.objects.get()
    assert (config.org_name, config.server_url) == ("Acme", "https://fleet.acme.io")
    assert Activity.objects.filter(type="edited_app_config").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"org_info": {"org_name": ""}}, "org_info.org_name"),
        ({"server_settings": {"server_url": "fleet"}}, "server_settings.server_url"),
        ({"features": {"enable_everything": True}}, "features.enable_everything"),
        ({"agent_options": {"config": {"options": {"logger_tls_period": "10s"}}}}, "agent_options"),
        ({"sso_settings": {"enable_sso": True}}, "metadata"),
        ({"sso_settings": ["x"]}, "sso_settings"),
    ],
)
def test_bad_patch_is_422_naming_the_field_and_saves_nothing(api: APIClient, body: dict, field: str) -> None:
    api.patch(URL, {"org_info": {"org_name": "Before"}})
    response = api.patch(URL, {"org_info": {"org_name": "Half"}, **body})
    assert response.status_code == 422
    assert response.json()["errors"][0]["name"] == field
    assert FleetConfig.objects.get().org_name == "Before"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("config:\n  options:\n    distributed_interval: [", "invalid YAML at line"),
        ('{"config": ', "invalid JSON at line 1"),
        ("- a\n- b", "must be a mapping"),
        ("confg: {}", "did you mean 'config'"),
        ("config:\n  options:\n    pack_delimiter: '|'", "must stay '/'"),
        ("overrides:\n  platforms:\n    macos: {}", "did you mean"),
        ("config:\n  decorators:\n    load: SELECT 1", "list of SQL strings"),
    ],
)
def test_agent_options_errors_are_clear(text: str, message: str) -> None:
    with pytest.raises(agent_options_check.AgentOptionsError) as caught:
        agent_options_check.validate(agent_options_check.parse(text))
    assert message in str(caught.value)


def test_default_agent_options_are_valid() -> None:
    assert agent_options_check.validate(FleetConfig().agent_options)
