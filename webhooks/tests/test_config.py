"""`webhook_settings` and `integrations` in `/config` and team config: defaults, round trips, checks, masking, roles."""

from __future__ import annotations

import json
from importlib import import_module

import pytest
from django.apps import apps as django_apps

from accounts.models import Team
from webhooks import config
from webhooks.models import AutomationSettings

pytestmark = pytest.mark.django_db

CONFIG = "/api/latest/fleet/config"


def _errors(response) -> list[dict[str, str]]:
    return response.json()["errors"]


def test_a_new_server_shows_fleets_defaults(api):
    body = api.get(CONFIG).json()
    assert body["webhook_settings"] == {
        "activities_webhook": {"enable_activities_webhook": False, "destination_url": ""},
        "host_status_webhook": {
            "enable_host_status_webhook": False,
            "destination_url": "",
            "host_percentage": 0,
            "days_count": 0,
        },
        "failing_policies_webhook": {
            "enable_failing_policies_webhook": False,
            "destination_url": "",
            "policy_ids": None,
            "host_batch_size": 0,
        },
        "vulnerabilities_webhook": {
            "enable_vulnerabilities_webhook": False,
            "destination_url": "",
            "host_batch_size": 0,
        },
        "interval": "24h0m0s",
    }
    assert body["integrations"] == {"jira": [], "zendesk": [], "google_calendar": None}


def test_patch_round_trip_merges_key_by_key(api):
    hook = {"enable_host_status_webhook": True, "destination_url": "https://hooks.example.com/status",
            "host_percentage": 25, "days_count": 7}  # fmt: skip
    response = api.patch(CONFIG, {"webhook_settings": {"host_status_webhook": hook, "interval": "1h"}})
    assert response.status_code == 200, response.content
    assert response.json()["webhook_settings"]["host_status_webhook"] == hook
    assert response.json()["webhook_settings"]["interval"] == "1h0m0s"
    # Only one key sent: the others keep their values (Fleet decodes onto the stored config).
    api.patch(CONFIG, {"webhook_settings": {"host_status_webhook": {"days_count": 3}}})
    got = api.get(CONFIG).json()["webhook_settings"]["host_status_webhook"]
    assert got == {**hook, "days_count": 3}
    activity = api.get("/api/latest/fleet/activities").json()["activities"][0]
    assert activity["type"] == "edited_app_config"
    assert activity["details"]["fields"] == ["webhook_settings.host_status_webhook"]


def test_the_same_settings_again_record_nothing(api):
    change = {"webhook_settings": {"activities_webhook": {"enable_activities_webhook": False}}}
    api.patch(CONFIG, change)
    before = api.get("/api/latest/fleet/activities").json()["activities"]
    api.patch(CONFIG, change)
    assert api.get("/api/latest/fleet/activities").json()["activities"] == before


@pytest.mark.parametrize(
    ("change", "name", "reason"),
    [
        ({"host_status_webhook": {"enable_host_status_webhook": True, "destination_url": "https://x.example",
                                  "host_percentage": 10}},
         "days_count", "days_count must be > 0 to enable the host status webhook"),
        ({"host_status_webhook": {"enable_host_status_webhook": True, "days_count": 2, "host_percentage": 10}},
         "destination_url", "destination_url is required to enable the host status webhook"),
        ({"failing_policies_webhook": {"enable_failing_policies_webhook": True}},
         "destination_url", "destination_url is required to enable the failing policies webhook"),
        ({"vulnerabilities_webhook": {"enable_vulnerabilities_webhook": True}},
         "destination_url", "destination_url is required to enable the vulnerabilities webhook"),
        ({"activities_webhook": {"enable_activities_webhook": True}},
         "webhook_settings.activities_webhook.destination_url",
         "destination_url is required to enable the activities webhook"),
        ({"activities_webhook": {"enable_activities_webhook": True, "destination_url": "ftp://x.example/"}},
         "webhook_settings.activities_webhook.destination_url", "webhook_url must be https or http, and have a host"),
        ({"interval": "soon"}, "webhook_settings.interval", "invalid duration 'soon'"),
    ],
)  # fmt: skip
def test_invalid_settings_get_fleets_422(api, change, name, reason):
    response = api.patch(CONFIG, {"webhook_settings": change})
    assert response.status_code == 422, response.content
    assert response.json()["message"] == "Validation Failed"
    assert _errors(response) == [{"name": name, "reason": reason}]
    assert AutomationSettings.objects.count() == 0


def test_wrong_types_and_unknown_keys_are_400(api):
    wrong = api.patch(CONFIG, {"webhook_settings": {"host_status_webhook": {"days_count": "seven"}}})
    assert wrong.status_code == 400
    unknown = api.patch(CONFIG, {"webhook_settings": {"host_status_webhook": {"days": 7}}})
    assert unknown.status_code == 400
    assert 'unknown field "days"' in unknown.json()["errors"][0]["reason"]


def test_what_fleetctl_gitops_sends_when_the_file_says_nothing_is_accepted(api):
    defaults = {
        "integrations": {"jira": [], "zendesk": [], "google_calendar": [], "conditional_access_enabled": False},
        "webhook_settings": {
            "activities_webhook": {"enable_activities_webhook": False},
            "host_status_webhook": {"enable_host_status_webhook": False},
            "failing_policies_webhook": {"enable_failing_policies_webhook": False},
            "vulnerabilities_webhook": {"enable_vulnerabilities_webhook": False},
        },
    }
    assert api.patch(CONFIG, defaults).status_code == 200
    refused = api.patch(CONFIG, {"integrations": {"google_calendar": [{"domain": "example.com"}]}})
    assert refused.status_code == 422
    assert _errors(refused)[0]["name"] == "integrations.google_calendar"


def _jira(receiver, **extra):
    return {"url": receiver.url, "username": "fleet@example.com", "api_token": "s3cret", "project_key": "OPS",
            "enable_failing_policies": False, "enable_software_vulnerabilities": False, **extra}  # fmt: skip


def test_jira_is_tried_before_saving_and_its_token_is_masked(api, observer, api_client_as, receiver):
    response = api.patch(CONFIG, {"integrations": {"jira": [_jira(receiver)]}})
    assert response.status_code == 200, response.content
    check = receiver.received[-1]
    assert (check.method, check.path, check.auth) == ("GET", "/rest/api/2/project/OPS", ("fleet@example.com", "s3cret"))
    assert response.json()["integrations"]["jira"] == [{**_jira(receiver), "api_token": "********"}]
    assert api_client_as(observer).get(CONFIG).json()["integrations"]["jira"][0]["api_token"] == "********"
    # Sent back as shown (masked): the stored token stays, and an unchanged integration is not tried again.
    tries = len(receiver.received)
    shown = api.get(CONFIG).json()["integrations"]["jira"]
    assert api.patch(CONFIG, {"integrations": {"jira": shown}}).status_code == 200
    assert len(receiver.received) == tries
    assert config.integrations()["jira"][0]["api_token"] == "s3cret"
    # Changed with the mask: tried with the stored token.
    changed = [{**shown[0], "enable_software_vulnerabilities": True}]
    assert api.patch(CONFIG, {"integrations": {"jira": changed}}).status_code == 200
    assert receiver.received[-1].auth == ("fleet@example.com", "s3cret")


def test_api_tokens_are_stored_sealed_and_need_this_servers_key(api, receiver, settings):
    assert api.patch(CONFIG, {"integrations": {"jira": [_jira(receiver)]}}).status_code == 200
    stored = AutomationSettings.objects.get().integrations
    assert "s3cret" not in json.dumps(stored) and "api_token" not in stored["jira"][0]
    assert config.integrations()["jira"][0]["api_token"] == "s3cret"
    settings.SECRET_KEY = "another key entirely, as after a rotation"
    assert config.integrations()["jira"][0]["api_token"] == ""  # to be entered again, not a 500


def test_tokens_saved_in_clear_before_are_sealed_by_the_migration(api, receiver):
    seal_tokens = import_module("webhooks.migrations.0002_seal_integration_tokens").seal_tokens
    clear = {"jira": [_jira(receiver)], "zendesk": []}
    AutomationSettings.objects.update_or_create(pk=1, defaults={"integrations": clear})
    seal_tokens(django_apps, None)
    stored = AutomationSettings.objects.get().integrations
    assert "s3cret" not in json.dumps(stored)
    assert config.integrations()["jira"] == [_jira(receiver)]


def test_jira_that_refuses_the_credentials_is_not_saved(api, receiver):
    receiver.status = 401
    response = api.patch(CONFIG, {"integrations": {"jira": [_jira(receiver)]}})
    assert response.status_code == 422
    assert _errors(response)[0]["reason"].startswith("Jira integration at index 0: Jira integration request failed")
    assert config.integrations()["jira"] == []


def test_zendesk_group_must_match(api, receiver):
    zendesk = {"url": receiver.url, "email": "it@example.com", "api_token": "tok", "group_id": 42,
               "enable_failing_policies": True, "enable_software_vulnerabilities": False}  # fmt: skip
    receiver.zendesk_group = 41
    response = api.patch(CONFIG, {"integrations": {"zendesk": [zendesk]}})
    assert response.status_code == 422
    assert "no matching group id: received 41, expected 42" in _errors(response)[0]["reason"]
    receiver.zendesk_group = 42
    assert api.patch(CONFIG, {"integrations": {"zendesk": [zendesk]}}).status_code == 200
    check = receiver.received[-1]
    assert (check.path, check.auth) == ("/api/v2/groups/42.json", ("it@example.com/token", "tok"))
    assert api.get(CONFIG).json()["integrations"]["zendesk"][0]["api_token"] == "********"


def test_a_webhook_and_a_ticket_system_cannot_both_take_failing_policies(api, receiver):
    api.patch(CONFIG, {"integrations": {"jira": [_jira(receiver, enable_failing_policies=True)]}})
    response = api.patch(
        CONFIG,
        {"webhook_settings": {"failing_policies_webhook": {"enable_failing_policies_webhook": True,
                                                           "destination_url": "https://x.example"}}},
    )  # fmt: skip
    assert response.status_code == 422
    reason = "cannot enable both webhook failing policies and integration automations"
    assert _errors(response) == [{"name": "failing policies", "reason": reason}]


@pytest.mark.parametrize("persona", ["global_maintainer", "global_observer", "maintainer", "team_admin"])
def test_only_global_admins_change_global_automations(request, api_client_as, persona):
    user = request.getfixturevalue(persona)
    change = {"webhook_settings": {"activities_webhook": {"enable_activities_webhook": True,
                                                          "destination_url": "https://x.example"}}}  # fmt: skip
    assert api_client_as(user).patch(CONFIG, change).status_code == 403
    assert api_client_as(None).patch(CONFIG, change).status_code == 401
    assert AutomationSettings.objects.count() == 0


def test_team_settings_round_trip_for_team_admins(team, team_admin, maintainer, api, api_client_as, receiver):
    path = f"/api/latest/fleet/teams/{team.pk}"
    shown = api.get(path).json()["team"]
    assert shown["webhook_settings"] == {
        "host_status_webhook": config.WEBHOOK_DEFAULTS["host_status_webhook"],
        "failing_policies_webhook": config.WEBHOOK_DEFAULTS["failing_policies_webhook"],
    }
    assert shown["integrations"] == {"jira": [], "zendesk": [], "google_calendar": None}
    hook = {"enable_failing_policies_webhook": True, "destination_url": "https://team.example/hook",
            "policy_ids": [1, 2], "host_batch_size": 10}  # fmt: skip
    change = {"webhook_settings": {"failing_policies_webhook": hook}}
    assert api_client_as(maintainer).patch(path, change).status_code == 403
    response = api_client_as(team_admin).patch(path, change)
    assert response.status_code == 200, response.content
    assert response.json()["team"]["webhook_settings"]["failing_policies_webhook"] == hook
    assert Team.objects.get(pk=team.pk).spec_settings["webhook_settings"]["failing_policies_webhook"] == hook
    # Team integrations refer to global ones by url and project key.
    unknown = api.patch(path, {"integrations": {"jira": [{"url": receiver.url, "project_key": "OPS"}]}})
    assert unknown.status_code == 422
    assert _errors(unknown)[0]["reason"] == f"unknown Jira integration for url {receiver.url} and project key OPS"
    api.patch(CONFIG, {"integrations": {"jira": [_jira(receiver)]}})
    team_jira = [{"url": receiver.url, "project_key": "OPS", "enable_failing_policies": False}]
    response = api.patch(path, {"integrations": {"jira": team_jira}})
    assert response.status_code == 200, response.content
    assert response.json()["team"]["integrations"]["jira"] == team_jira
