"""Enroll secrets over REST and the `enroll_secret` management command (fleet-protocol §4.3)."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO
from typing import Any

import orjson
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Team, User
from conftest import AgentClient, APIClient
from enrollment import secrets as enroll_secrets
from enrollment.models import EnrollSecret
from enrollment.tests.fixtures import EnrolledHost, payload
from hosts.models import Host

pytestmark = pytest.mark.django_db

SPEC = "/api/latest/fleet/spec/enroll_secret"


def body_of(response: Any) -> Any:
    return orjson.loads(response.content)


def global_secrets() -> list[str]:
    return list(EnrollSecret.objects.filter(team__isnull=True).values_list("secret", flat=True))


def team_secrets(team: Team) -> list[str]:
    return list(EnrollSecret.objects.filter(team=team).values_list("secret", flat=True))


def spec(*values: str, dry_run: bool = False) -> dict[str, Any]:
    return {"spec": {"secrets": [{"secret": value} for value in values]}, "dry_run": dry_run}


def team_path(team: Team) -> str:
    return f"/api/latest/fleet/teams/{team.pk}/secrets"


# --- Global secrets -----------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["latest", "v1"])
def test_admin_reads_global_secrets(api: APIClient, enroll_secret: str, team_secret: str, version: str) -> None:
    response = api.get(f"/api/{version}/fleet/spec/enroll_secret")
    assert response.status_code == 200
    listed = body_of(response)["spec"]["secrets"]
    assert [item["secret"] for item in listed] == [enroll_secret]
    assert listed[0]["created_at"].endswith("Z")


def test_post_replaces_the_global_set(api: APIClient, enroll_secret: str) -> None:
    response = api.post(SPEC, spec("alpha", "beta"))
    assert response.status_code == 200
    assert body_of(response) == {}
    assert sorted(global_secrets()) == ["alpha", "beta"]


def test_post_keeps_created_at_of_secrets_that_stay(api: APIClient) -> None:
    api.post(SPEC, spec("alpha"))
    before = EnrollSecret.objects.get(secret="alpha").created_at
    api.post(SPEC, spec("alpha", "beta"))
    assert EnrollSecret.objects.get(secret="alpha").created_at == before


def test_post_with_an_empty_list_removes_every_global_secret(api: APIClient, enroll_secret: str) -> None:
    assert api.post(SPEC, spec()).status_code == 200
    assert global_secrets() == []


def test_post_leaves_team_secrets_alone(api: APIClient, team: Team, team_secret: str) -> None:
    api.post(SPEC, spec("alpha"))
    assert team_secrets(team) == [team_secret]


def test_dry_run_validates_without_changing_anything(api: APIClient, enroll_secret: str) -> None:
    response = api.post(SPEC, spec("alpha", "beta", dry_run=True))
    assert response.status_code == 200
    assert global_secrets() == [enroll_secret]


def test_dry_run_in_the_query_string_changes_nothing(api: APIClient, enroll_secret: str) -> None:
    # fleetctl apply --dry-run and gitops --dry-run send ?dry_run=true and no body key, as Fleet reads it.
    body = {"spec": {"secrets": [{"secret": "alpha"}]}}
    response = api.post(f"{SPEC}?dry_run=true", body)
    assert response.status_code == 200
    assert global_secrets() == [enroll_secret]
    assert api.post(f"{SPEC}?dry_run=true", {"spec": {"secrets": [{"secret": ""}]}}).status_code == 422
    assert api.post(f"{SPEC}?dry_run=false", body).status_code == 200
    assert global_secrets() == ["alpha"]


def test_dry_run_reports_an_invalid_set(api: APIClient, enroll_secret: str) -> None:
    response = api.post(SPEC, spec("alpha", "", dry_run=True))
    assert response.status_code == 422
    assert global_secrets() == [enroll_secret]


def test_dry_run_reports_a_secret_used_by_a_team(api: APIClient, enroll_secret: str, team_secret: str) -> None:
    response = api.post(SPEC, spec(team_secret, dry_run=True))
    assert response.status_code == 422
    assert global_secrets() == [enroll_secret]


def test_more_than_fifty_secrets_are_refused(api: APIClient, enroll_secret: str) -> None:
    response = api.post(SPEC, spec(*[f"secret-{n}" for n in range(51)]))
    assert response.status_code == 422
    body = body_of(response)
    assert body["message"] == "Validation Failed"
    assert body["errors"][0]["name"] == "secrets"
    assert global_secrets() == [enroll_secret]


def test_fifty_secrets_are_accepted(api: APIClient) -> None:
    assert api.post(SPEC, spec(*[f"secret-{n}" for n in range(50)])).status_code == 200
    assert len(global_secrets()) == 50


@pytest.mark.parametrize("blank", ["", "   "])
def test_empty_secret_is_refused(api: APIClient, enroll_secret: str, blank: str) -> None:
    response = api.post(SPEC, spec("alpha", blank))
    assert response.status_code == 422
    assert body_of(response)["message"] == "Validation Failed"
    assert global_secrets() == [enroll_secret]


def test_duplicate_secret_in_one_request_is_refused(api: APIClient, enroll_secret: str) -> None:
    assert api.post(SPEC, spec("alpha", "alpha")).status_code == 422
    assert global_secrets() == [enroll_secret]


def test_secret_already_used_by_a_team_is_refused_and_nothing_changes(
    api: APIClient, team: Team, enroll_secret: str, team_secret: str
) -> None:
    response = api.post(SPEC, spec("alpha", team_secret))
    assert response.status_code in (409, 422)
    assert "errors" in body_of(response)
    assert global_secrets() == [enroll_secret]
    assert team_secrets(team) == [team_secret]


def test_malformed_spec_is_a_validation_error(api: APIClient) -> None:
    response = api.post(SPEC, {"spec": {"secrets": "alpha"}})
    assert response.status_code == 422
    assert body_of(response)["errors"][0]["name"].startswith("spec")


def test_team_users_cannot_touch_global_secrets(
    api_client_as: Callable[[User | None], APIClient], maintainer: User, enroll_secret: str
) -> None:
    client = api_client_as(maintainer)
    assert client.get(SPEC).status_code == 403
    assert client.post(SPEC, spec("mine")).status_code == 403
    assert global_secrets() == [enroll_secret]


def test_global_observer_cannot_read_global_secrets(
    api_client_as: Callable[[User | None], APIClient], enroll_secret: str
) -> None:
    global_observer = User.objects.create_user("gobs@example.com", "pw-123456789", global_role="observer")
    response = api_client_as(global_observer).get(SPEC)
    assert response.status_code == 403
    assert enroll_secret not in response.content.decode()


def test_anonymous_cannot_read_global_secrets(api_client_as: Callable[[User | None], APIClient]) -> None:
    assert api_client_as(None).get(SPEC).status_code == 401


# --- Team secrets -------------------------------------------------------------------------------


def test_admin_reads_team_secrets(api: APIClient, team: Team, team_secret: str, enroll_secret: str) -> None:
    response = api.get(team_path(team))
    assert response.status_code == 200
    listed = body_of(response)["secrets"]
    assert [(item["secret"], item["team_id"]) for item in listed] == [(team_secret, team.pk)]


def test_patch_replaces_the_team_set(api: APIClient, team: Team, team_secret: str) -> None:
    response = api.patch(team_path(team), {"secrets": [{"secret": "new-one"}, {"secret": "new-two"}]})
    assert response.status_code == 200
    assert sorted(item["secret"] for item in body_of(response)["secrets"]) == ["new-one", "new-two"]
    assert sorted(team_secrets(team)) == ["new-one", "new-two"]


def test_patch_does_not_touch_other_scopes(
    api: APIClient, team: Team, other_team: Team, enroll_secret: str, team_secret: str
) -> None:
    other = enroll_secrets.add(other_team, "team-b-secret").secret
    api.patch(team_path(team), {"secrets": [{"secret": "new-one"}]})
    assert global_secrets() == [enroll_secret]
    assert team_secrets(other_team) == [other]


def test_patch_refuses_a_global_secret_for_a_team(
    api: APIClient, team: Team, team_secret: str, enroll_secret: str
) -> None:
    response = api.patch(team_path(team), {"secrets": [{"secret": enroll_secret}]})
    assert response.status_code in (409, 422)
    assert team_secrets(team) == [team_secret]
    assert global_secrets() == [enroll_secret]


def test_patch_refuses_more_than_fifty(api: APIClient, team: Team, team_secret: str) -> None:
    response = api.patch(team_path(team), {"secrets": [{"secret": f"s-{n}"} for n in range(51)]})
    assert response.status_code == 422
    assert team_secrets(team) == [team_secret]


def test_team_maintainer_manages_its_team_secrets(
    api_client_as: Callable[[User | None], APIClient], maintainer: User, team: Team, team_secret: str
) -> None:
    client = api_client_as(maintainer)
    assert [item["secret"] for item in body_of(client.get(team_path(team)))["secrets"]] == [team_secret]
    assert client.patch(team_path(team), {"secrets": [{"secret": "rotated"}]}).status_code == 200
    assert team_secrets(team) == ["rotated"]


def test_team_observer_cannot_read_or_change_team_secrets(
    api_client_as: Callable[[User | None], APIClient], observer: User, team: Team, team_secret: str
) -> None:
    client = api_client_as(observer)
    response = client.get(team_path(team))
    assert response.status_code == 403
    assert team_secret not in response.content.decode()
    assert client.patch(team_path(team), {"secrets": [{"secret": "mine"}]}).status_code == 403
    assert team_secrets(team) == [team_secret]


def test_outsider_gets_not_found_for_another_teams_secrets(
    api_client_as: Callable[[User | None], APIClient], outsider: User, team: Team, team_secret: str
) -> None:
    client = api_client_as(outsider)
    response = client.get(team_path(team))
    assert response.status_code == 404
    assert body_of(response)["message"] == "Resource Not Found"
    assert client.patch(team_path(team), {"secrets": [{"secret": "mine"}]}).status_code == 404
    assert team_secrets(team) == [team_secret]


def test_unknown_team_is_not_found(api: APIClient) -> None:
    assert api.get("/api/latest/fleet/teams/999999/secrets").status_code == 404
    assert api.patch("/api/latest/fleet/teams/999999/secrets", {"secrets": []}).status_code == 404


# --- Secrets added over the API enroll hosts -----------------------------------------------------


def test_team_secret_added_over_the_api_enrolls_into_that_team(
    api: APIClient, team: Team, agent: AgentClient, enroll_host: Callable[..., EnrolledHost]
) -> None:
    api.patch(team_path(team), {"secrets": [{"secret": "team-a-installer"}]})
    enrolled = enroll_host(secret="team-a-installer")
    assert enrolled.host.team_id == team.pk


def test_global_secret_added_over_the_api_enrolls_without_a_team(
    api: APIClient, agent: AgentClient, enroll_host: Callable[..., EnrolledHost]
) -> None:
    api.post(SPEC, spec("global-installer"))
    enrolled = enroll_host(secret="global-installer")
    assert enrolled.host.team_id is None


def test_replaced_secret_no_longer_enrolls(api: APIClient, agent: AgentClient, enroll_secret: str) -> None:
    api.post(SPEC, spec("global-installer"))
    body = agent.json("/api/osquery/enroll", payload("enroll_ubuntu", enroll_secret=enroll_secret), expect=401)
    assert body["node_invalid"] is True
    assert not Host.objects.exists()


# --- Management command --------------------------------------------------------------------------


def run(*args: str) -> str:
    out = StringIO()
    call_command("enroll_secret", *args, stdout=out)
    return out.getvalue()


def test_command_lists_global_secrets(enroll_secret: str, team_secret: str) -> None:
    lines = run("list").splitlines()
    assert [line.split("\t")[0] for line in lines] == [enroll_secret]


def test_command_lists_a_teams_secrets(enroll_secret: str, team_secret: str) -> None:
    lines = run("list", "--team", "Team A").splitlines()
    assert [line.split("\t")[0] for line in lines] == [team_secret]


def test_command_adds_a_generated_secret(team: Team) -> None:
    printed = run("add", "--team", "Team A").strip()
    assert len(printed) == 32
    assert team_secrets(team) == [printed]


def test_command_adds_a_given_secret(db: None) -> None:
    assert run("add", "--secret", "chosen-value").strip() == "chosen-value"
    assert global_secrets() == ["chosen-value"]


def test_command_refuses_a_secret_in_use(team_secret: str) -> None:
    with pytest.raises(CommandError, match="already in use"):
        run("add", "--secret", team_secret)
    assert global_secrets() == []


def test_command_rotate_replaces_every_secret_of_the_scope(team: Team, enroll_secret: str) -> None:
    enroll_secrets.add(team, "old-one")
    enroll_secrets.add(team, "old-two")
    printed = run("rotate", "--team", "Team A").strip()
    assert team_secrets(team) == [printed]
    assert printed not in ("old-one", "old-two")
    assert global_secrets() == [enroll_secret]


def test_command_rotate_of_global_secrets_leaves_teams_alone(enroll_secret: str, team: Team, team_secret: str) -> None:
    printed = run("rotate").strip()
    assert global_secrets() == [printed] != [enroll_secret]
    assert team_secrets(team) == [team_secret]


def test_command_deletes_a_secret(team: Team, team_secret: str) -> None:
    enroll_secrets.add(team, "keep-me")
    assert run("delete", "--team", "Team A", "--secret", team_secret).strip() == "deleted"
    assert team_secrets(team) == ["keep-me"]


def test_command_delete_without_a_secret_is_an_error(team_secret: str, team: Team) -> None:
    with pytest.raises(CommandError, match="--secret"):
        run("delete", "--team", "Team A")
    assert team_secrets(team) == [team_secret]


def test_command_delete_only_looks_in_the_given_scope(enroll_secret: str, team: Team, team_secret: str) -> None:
    with pytest.raises(CommandError):
        run("delete", "--secret", team_secret)
    assert team_secrets(team) == [team_secret]


@pytest.mark.parametrize("action", ["list", "add", "rotate", "delete"])
def test_command_with_an_unknown_team_is_an_error(enroll_secret: str, action: str) -> None:
    with pytest.raises(CommandError, match="no team named"):
        run(action, "--team", "Nope", "--secret", "x")
    assert global_secrets() == [enroll_secret]
