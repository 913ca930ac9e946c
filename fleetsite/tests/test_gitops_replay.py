"""`fleetctl gitops -f default.yml -f teams/a.yml` replayed request by request (Fleet's client.DoGitOps order).

The two files are written here as the parsed YAML fleetctl builds its requests from. `gitops()`
sends what fleetctl sends: reads of the current state, the specs, then deletions of what the files
no longer name. In a dry run fleetctl only sends the config, enroll secret, secret variable and
team specs (with `dry_run`) and reads the rest; it stops before a team the run would create.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from accounts.models import Team
from activities.models import Activity
from conftest import APIClient
from enrollment.models import EnrollSecret
from fleetsite.models import FleetConfig
from hosts.models import Label
from queries.models import Policy, Query
from scripts.models import Script
from variables import service as variables

pytestmark = pytest.mark.django_db

BASE = "/api/latest/fleet"

DEFAULT_YML: dict[str, Any] = {
    "org_settings": {
        "org_info": {"org_name": "Acme"},
        "server_settings": {"server_url": "https://fleet.acme.test"},
        "secrets": [{"secret": "global-enroll-secret"}],
    },
    "agent_options": {"config": {"options": {"distributed_interval": 10}}},
    "labels": [
        {"name": "Macs", "query": "SELECT 1 FROM os_version WHERE platform = 'darwin'", "platform": "darwin"},
    ],
    "policies": [{"name": "Firewall on", "query": "SELECT 1 FROM alf WHERE global_state >= 1", "platform": "darwin"}],
    "reports": [{"name": "Uptime", "query": "SELECT * FROM uptime", "interval": 3600, "logging": "snapshot"}],
}
TEAM_A_YML: dict[str, Any] = {
    "name": "Workstations",
    "settings": {"secrets": [{"secret": "workstations-enroll-secret"}], "features": {"enable_host_users": False}},
    "agent_options": {"config": {"options": {"distributed_interval": 30}}},
    "controls": {"scripts": [{"path": "../lib/hello.sh"}]},
    "labels": [{"name": "Workstation laptops", "query": "SELECT 1 FROM battery"}],
    "policies": [{"name": "Disk encrypted", "query": "SELECT 1 FROM disk_encryption WHERE encrypted = 1"}],
    "reports": [{"name": "USB devices", "query": "SELECT * FROM usb_devices", "interval": 600}],
}
SCRIPT_FILES = {"../lib/hello.sh": b"#!/bin/sh\necho hello $FLEET_SECRET_GREETING\n"}
ENV_SECRETS = {"FLEET_SECRET_GREETING": "hi there"}


class Fleetctl:
    """The HTTP side of `fleetctl gitops`: every request it would send, each expected to succeed."""

    def __init__(self, client: APIClient) -> None:
        self.client = client
        self.sent: list[tuple[str, str, int]] = []

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        if method == "get":
            response = self.client.get(f"{BASE}{path}")
        else:
            response = self.client._call(method, f"{BASE}{path}", body)
        self.sent.append((method.upper(), path, response.status_code))
        assert response.status_code == expect, (method, path, response.content[:500])
        return response.json() if response.content else {}

    def gitops(self, default: dict[str, Any], team: dict[str, Any], dry_run: bool) -> None:
        dry = "true" if dry_run else "false"
        self.call("get", "/config")
        self.call("put", "/spec/secret_variables", {"secrets": _secrets(ENV_SECRETS), "dry_run": dry_run})
        self._global_file(default, dry, dry_run)
        self._team_file(team, dry, dry_run)

    def _global_file(self, default: dict[str, Any], dry: str, dry_run: bool) -> None:
        labels = self.call("get", "/spec/labels?fleet_id=0")["specs"]  # fleetctl: GetLabels(0)
        stale_labels = {spec["name"] for spec in labels if spec["label_type"] == "regular"} - {
            label["name"] for label in default["labels"]
        }
        if not dry_run:
            self.call("post", "/spec/labels", {"specs": default["labels"]})
            for name in sorted(stale_labels):
                self.call("delete", f"/labels/{name}")
        org = {key: value for key, value in default["org_settings"].items() if key != "secrets"}
        self.call("patch", f"/config?dry_run={dry}&overwrite=true", {**org, **_gitops_defaults(default)})
        self.call("post", f"/scripts/batch?dry_run={dry}", {"scripts": []})
        secrets = {"spec": {"secrets": default["org_settings"]["secrets"]}, "dry_run": dry_run}
        self.call("post", "/spec/enroll_secret", secrets)
        self._policies_and_reports(default, None, "/global/policies", dry_run)

    def _team_file(self, team_file: dict[str, Any], dry: str, dry_run: bool) -> None:
        spec = {
            "name": team_file["name"],
            "agent_options": team_file["agent_options"],
            "features": {"enable_software_inventory": True, **team_file["settings"].get("features", {})},
            "secrets": team_file["settings"]["secrets"],
            "scripts": [script["path"] for script in team_file["controls"]["scripts"]],
            "software": {"app_store_apps": None, "packages": None, "fleet_maintained_apps": None},
            "webhook_settings": {"failing_policies_webhook": {"enable_failing_policies_webhook": False}},
            "integrations": {"google_calendar": {}, "conditional_access_enabled": False},
            "mdm": {"enable_disk_encryption": False, "macos_settings": {"custom_settings": []}},
            "gitops_filename": "a.yml",
        }
        ids = self.call("post", f"/spec/fleets?dry_run={dry}", {"specs": [spec]})["team_ids_by_name"]
        scripts = [
            {"name": path.rsplit("/", 1)[-1], "script_contents": base64.b64encode(SCRIPT_FILES[path]).decode()}
            for path in spec["scripts"]
        ]
        self.call("post", f"/scripts/batch?fleet_name={team_file['name']}&dry_run={dry}", {"scripts": scripts})
        team_id = ids[team_file["name"]]
        if dry_run and team_id == 0:
            return  # "[+] would've added any policies/reports to new fleet"
        labels = self.call("get", f"/spec/labels?fleet_id={team_id}")["specs"]
        stale = {spec["name"] for spec in labels} - {label["name"] for label in team_file["labels"]}
        if not dry_run:
            self.call("post", f"/spec/labels?fleet_id={team_id}", {"specs": team_file["labels"]})
            for name in sorted(stale):
                self.call("delete", f"/labels/{name}")
        self._policies_and_reports(team_file, team_id, f"/fleets/{team_id}/policies", dry_run)

    def _policies_and_reports(self, file: dict[str, Any], team_id: int | None, policies: str, dry_run: bool) -> None:
        team_name = TEAM_A_YML["name"] if team_id else ""
        current = self.call("get", policies)["policies"]
        names = {policy["name"] for policy in file["policies"]}
        if not dry_run:
            specs = [{**policy, "team": team_name} for policy in file["policies"]]
            self.call("post", "/spec/policies", {"specs": specs})
        stale = [policy["id"] for policy in current if policy["name"] not in names]
        if stale and not dry_run:
            self.call("post", f"{policies}/delete", {"ids": stale})
        current = self.call("get", f"/reports?fleet_id={team_id}" if team_id else "/reports")["reports"]
        names = {report["name"] for report in file["reports"]}
        if not dry_run:
            self.call("post", "/spec/reports", {"specs": [{**report, "team": team_name} for report in file["reports"]]})
        stale = [report["id"] for report in current if report["name"] not in names]
        if stale and not dry_run:
            self.call("post", "/reports/delete", {"ids": stale})


def _secrets(env: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in env.items()]


def _gitops_defaults(default: dict[str, Any]) -> dict[str, Any]:
    """What DoGitOps adds to org_settings when the file leaves them out (all switched off)."""
    return {
        "agent_options": default["agent_options"],
        "features": {"enable_software_inventory": True},
        "integrations": {"jira": [], "zendesk": [], "google_calendar": [], "conditional_access_enabled": False},
        "webhook_settings": {
            "activities_webhook": {"enable_activities_webhook": False},
            "host_status_webhook": {"enable_host_status_webhook": False},
            "failing_policies_webhook": {"enable_failing_policies_webhook": False},
            "vulnerabilities_webhook": {"enable_vulnerabilities_webhook": False},
        },
        "mdm": {
            "volume_purchasing_program": [],
            "macos_migration": {"enable": False},
            "windows_enabled_and_configured": False,
            "windows_migration_enabled": False,
            "windows_entra_tenant_ids": [],
            "enable_turn_on_windows_mdm_manually": False,
            "android_enabled_and_configured": False,
            "macos_settings": {"custom_settings": []},
            "macos_updates": {"minimum_version": "", "deadline": ""},
            "windows_settings": {"custom_settings": []},
            "enable_disk_encryption": False,
        },
        "scripts": [],
        "yara_rules": [],
        "gitops": {"gitops_mode_enabled": False, "repository_url": "", "exceptions": {"labels": False}},
    }


@pytest.fixture
def before(admin: Any) -> dict[str, Any]:
    """What Fleet held before the files: objects the files no longer name, to be deleted."""
    FleetConfig.load()  # the defaults row, which any read of the config creates
    return {
        "query": Query.objects.create(name="Old report", query="SELECT 1"),
        "policy": Policy.objects.create(name="Old policy", query="SELECT 1"),
        "label": Label.objects.create(name="Old label", query="SELECT 1"),
    }


def _state() -> dict[str, Any]:
    """Every row gitops may touch, with its update time: equal states mean nothing was written."""
    return {
        "queries": sorted(Query.objects.values_list("team_key", "name", "query", "updated_at")),
        "policies": sorted(Policy.objects.values_list("team_key", "name", "query", "updated_at")),
        "labels": sorted(Label.objects.values_list("name", "query", "updated_at")),
        "teams": list(Team.objects.order_by("name").values_list("name", "agent_options", "updated_at")),
        "secrets": sorted(EnrollSecret.objects.values_list("secret", "created_at")),
        "scripts": sorted(Script.objects.values_list("team_key", "name", "contents", "updated_at")),
        "config": FleetConfig.objects.filter(pk=1).values_list("org_name", "agent_options").first(),
        "activities": Activity.objects.count(),
    }


def test_dry_run_sends_the_whole_sequence_and_changes_nothing(api: APIClient, before: dict[str, Any]) -> None:
    state = _state()
    fleetctl = Fleetctl(api)
    fleetctl.gitops(DEFAULT_YML, TEAM_A_YML, dry_run=True)
    assert _state() == state
    assert variables.value_of("GREETING") is None
    sent = [(method, path.split("?")[0]) for method, path, _ in fleetctl.sent]
    assert ("POST", "/spec/fleets") in sent and ("PATCH", "/config") in sent
    assert ("POST", "/spec/queries") not in sent  # fleetctl ignores reports in a dry run


def test_a_real_run_makes_fleet_match_the_files(api: APIClient, before: dict[str, Any]) -> None:
    Fleetctl(api).gitops(DEFAULT_YML, TEAM_A_YML, dry_run=False)

    team = Team.objects.get(name="Workstations")
    assert team.agent_options["config"]["options"]["distributed_interval"] == 30
    assert list(team.secrets.values_list("secret", flat=True)) == ["workstations-enroll-secret"]
    assert team.spec_settings["gitops_filename"] == "a.yml"
    config = FleetConfig.objects.get()
    assert (config.org_name, config.agent_options["config"]["options"]["distributed_interval"]) == ("Acme", 10)
    assert list(EnrollSecret.objects.filter(team=None).values_list("secret", flat=True)) == ["global-enroll-secret"]
    assert set(Query.objects.values_list("team_id", "name")) == {(None, "Uptime"), (team.pk, "USB devices")}
    assert set(Policy.objects.values_list("team_id", "name")) == {(None, "Firewall on"), (team.pk, "Disk encrypted")}
    assert not Label.objects.filter(name="Old label").exists()
    assert Label.objects.get(name="Macs").platform == "darwin"
    assert Label.objects.get(name="Workstation laptops").team == team
    assert Script.objects.get(team=team).name == "hello.sh"
    assert variables.value_of("FLEET_SECRET_GREETING") == "hi there"


def test_applying_the_same_files_twice_changes_nothing_and_records_no_activity(
    api: APIClient, before: dict[str, Any]
) -> None:
    Fleetctl(api).gitops(DEFAULT_YML, TEAM_A_YML, dry_run=False)
    state = _state()
    Fleetctl(api).gitops(DEFAULT_YML, TEAM_A_YML, dry_run=False)
    assert _state() == state
    # A dry run against the applied state reaches the team's policies and reports, and still writes nothing.
    fleetctl = Fleetctl(api)
    fleetctl.gitops(DEFAULT_YML, TEAM_A_YML, dry_run=True)
    assert _state() == state
    assert any(path.startswith("/fleets/") for _, path, _ in fleetctl.sent)


def test_an_invalid_report_rolls_back_its_whole_batch(api: APIClient, before: dict[str, Any]) -> None:
    Fleetctl(api).gitops(DEFAULT_YML, TEAM_A_YML, dry_run=False)
    state = _state()
    team_file = copy.deepcopy(TEAM_A_YML)
    team_file["reports"] = [
        {"name": "USB devices", "query": "SELECT vendor FROM usb_devices", "interval": 600},
        {"name": "Broken", "query": "DROP TABLE users", "interval": 600},
    ]
    fleetctl = Fleetctl(api)
    team_id = Team.objects.get(name="Workstations").pk
    specs = [{**report, "team": "Workstations"} for report in team_file["reports"]]
    response = fleetctl.call("post", "/spec/reports", {"specs": specs}, expect=422)
    assert response["message"] == "Validation Failed"
    assert response["errors"][0]["name"] == "specs.1.query"
    assert _state() == state
    assert Query.objects.get(team_id=team_id).query == "SELECT * FROM usb_devices"


def test_a_dry_run_catches_bad_team_agent_options_before_anything_is_written(
    api: APIClient, before: dict[str, Any]
) -> None:
    state = _state()
    team_file = copy.deepcopy(TEAM_A_YML)
    team_file["agent_options"] = {"config": {"options": {"distributed_interval": "often"}}}
    fleetctl = Fleetctl(api)
    spec = {"name": team_file["name"], "agent_options": team_file["agent_options"]}
    response = fleetctl.call("post", "/spec/fleets?dry_run=true", {"specs": [spec]}, expect=400)
    assert response["errors"][0]["name"] == "agent_options"
    assert fleetctl.call("post", "/spec/fleets", {"specs": [spec]}, expect=400)
    assert _state() == state
