"""The permission matrix: every role x object kind x read/write, including another team's admin.

Expectations are written out by hand (not derived from accounts.permissions.RULES), so a change
to the rules that nobody meant shows up here. Denials follow Fleet: 404 when the object is on a
team the user cannot see, 403 when they can see it but their role is too low.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts import tokens
from accounts.models import Invite, Team, User
from conftest import APIClient
from enrollment import secrets as enroll_secrets
from hosts.models import Host, Software
from queries.models import Query
from software_installers.models import SoftwareInstaller

pytestmark = pytest.mark.django_db


GLOBAL = {"g_admin", "g_maintainer", "g_observer", "g_observer_plus", "token_observer", "token_uncapped"}
TEAM_A = {"a_admin", "a_maintainer", "a_observer", "a_observer_plus", "token_a_observer"}
EVERYONE = GLOBAL | TEAM_A | {"outsider"}
# API tokens with a role act with the lower of it and their owner's role, and cannot lift that cap.
CAPPED_TOKENS = {"token_observer", "token_a_observer"}
ADMINS = {"g_admin", "token_uncapped"}

# operation -> personas allowed
ALLOWED: dict[str, set[str]] = {
    "team_host:read": GLOBAL | TEAM_A,
    "team_host:write": ADMINS | {"g_maintainer", "a_admin", "a_maintainer"},
    "team_host_device_mapping:read": GLOBAL | TEAM_A,
    "team_host_device_mapping:write": ADMINS | {"g_maintainer", "a_admin", "a_maintainer"},
    "team_host_device_mapping_idp:write": ADMINS | {"g_maintainer", "a_admin", "a_maintainer"},
    "team_host_health:read": GLOBAL | TEAM_A,
    "team_host_labels:write": ADMINS | {"g_maintainer", "a_admin", "a_maintainer"},
    "unassigned_host:read": GLOBAL,
    "unassigned_host:write": ADMINS | {"g_maintainer"},
    "team:read": GLOBAL | TEAM_A,
    "team:write": ADMINS | {"a_admin"},
    "team_members:write": ADMINS | {"a_admin"},
    "team_agent_options:write": ADMINS | {"a_admin"},
    "team_secrets:read": ADMINS | {"g_maintainer", "a_admin", "a_maintainer"},
    "team_secrets:write": ADMINS | {"g_maintainer", "a_admin", "a_maintainer"},
    "global_secrets:read": ADMINS | {"g_maintainer"},
    "global_secrets:write": ADMINS | {"g_maintainer"},
    "users:read": ADMINS,
    "users:write": ADMINS,
    "invites:write": ADMINS,
    "config:read": EVERYONE,
    "config:write": ADMINS,
    "config_certificate:read": EVERYONE,
    "activities:read": EVERYONE,
    "software:read": EVERYONE,
    "software_legacy:read": EVERYONE,
    "vulnerabilities:read": EVERYONE,
    "os_versions:read": EVERYONE,
    "team_vulnerabilities:read": GLOBAL | TEAM_A,
    "team_os_versions:read": GLOBAL | TEAM_A,
    "team_create:write": ADMINS,
    # Issue 12, finding 1: an observer-capped token minted an admin token.
    "admin_api_token:write": ADMINS | {"a_admin", "outsider"},  # outsider administers team B
    "own_account:write": EVERYONE - CAPPED_TOKENS,
    "own_password:write": EVERYONE - CAPPED_TOKENS,
    # Legacy packs reach hosts of every team: global admins and maintainers only (Fleet's authz).
    "packs:read": ADMINS | {"g_maintainer"},
    "packs:write": ADMINS | {"g_maintainer"},
    "global_schedule:write": ADMINS | {"g_maintainer"},
    "team_schedule:read": GLOBAL | TEAM_A,
    "team_schedule:write": ADMINS | {"g_maintainer", "a_admin", "a_maintainer"},
    "team_script:read": GLOBAL | TEAM_A,
    "team_script:write": ADMINS | {"g_maintainer", "a_admin", "a_maintainer"},
    "script_run:write": ADMINS | {"g_maintainer", "a_admin", "a_maintainer"},
    # Specs (fleetctl apply/get/gitops): global queries are readable by every role, as their list is.
    "query_specs:read": EVERYONE,
    "global_query_specs:write": ADMINS | {"g_maintainer"},
    "team_query_specs:write": ADMINS | {"g_maintainer", "a_admin", "a_maintainer"},
    "global_policy_specs:write": ADMINS | {"g_maintainer"},
    "label_specs:read": EVERYONE,
    "team_specs:write": ADMINS,
    "user_role_specs:write": ADMINS,
    "secret_variables:read": ADMINS | {"g_maintainer"},
    "secret_variables:write": ADMINS | {"g_maintainer"},
    # Another user's login sessions (team A's observer): admins, and that user themselves.
    "member_sessions:read": ADMINS | {"a_observer"},
    "member_sessions:write": ADMINS | {"a_observer"},
    "own_sessions:read": EVERYONE,
    "require_password_reset:write": ADMINS,
    "invite_edit:write": ADMINS,
    "trigger:write": ADMINS,
    "version:read": EVERYONE,
    # Refused (no MDM), but only after Fleet's checks: who could act on the host gets the refusal.
    "team_host_lock:write": ADMINS | {"g_maintainer", "a_admin", "a_maintainer"},
    "team_installer:read": GLOBAL | TEAM_A,
    "team_installer:write": ADMINS | {"g_maintainer", "a_admin", "a_maintainer"},
    "software_install:write": ADMINS | {"g_maintainer", "a_admin", "a_maintainer"},
}
# Operations on team A's objects: someone who cannot see team A gets 404, not 403.
TEAM_A_OBJECTS = {
    "team_host",
    "team_host_health",
    "team_host_labels",
    "team_host_device_mapping",
    "team_host_device_mapping_idp",
    "team",
    "team_members",
    "team_agent_options",
    "team_secrets",
    "team_schedule",
    "team_script",
    "script_run",
    "team_vulnerabilities",
    "team_os_versions",
    "team_query_specs",
    "team_host_lock",
    "team_installer",
    "software_install",
}


@pytest.fixture
def world(
    team: Team,
    other_team: Team,
    admin: User,
    global_maintainer: User,
    global_observer: User,
    observer_plus: User,
    team_admin: User,
    maintainer: User,
    observer: User,
    team_observer_plus: User,
    outsider: User,
    api_client_as: Callable[[User | None], APIClient],
) -> dict[str, Any]:
    clients = {
        "g_admin": api_client_as(admin),
        "g_maintainer": api_client_as(global_maintainer),
        "g_observer": api_client_as(global_observer),
        "g_observer_plus": api_client_as(observer_plus),
        "a_admin": api_client_as(team_admin),
        "a_maintainer": api_client_as(maintainer),
        "a_observer": api_client_as(observer),
        "a_observer_plus": api_client_as(team_observer_plus),
        "outsider": api_client_as(outsider),
    }
    # A global admin's API token scoped down to observer acts as an observer; without a role, as its owner.
    clients["token_observer"] = APIClient(tokens.issue_api_token(admin, "read-only script", role="observer")[1])
    clients["token_uncapped"] = APIClient(tokens.issue_api_token(admin, "full script")[1])
    clients["token_a_observer"] = APIClient(tokens.issue_api_token(team_admin, "team script", role="observer")[1])
    owners = {"token_observer": admin, "token_uncapped": admin, "token_a_observer": team_admin}
    users = {
        "g_admin": admin,
        "g_maintainer": global_maintainer,
        "g_observer": global_observer,
        "g_observer_plus": observer_plus,
        "a_admin": team_admin,
        "a_maintainer": maintainer,
        "a_observer": observer,
        "a_observer_plus": team_observer_plus,
        "outsider": outsider,
    }
    return {
        "clients": clients,
        "user_ids": {persona: user.pk for persona, user in (users | owners).items()},
        "team": team,
        "team_host": Host.objects.create(osquery_host_id="a", hostname="a", team=team),
        "free_host": Host.objects.create(osquery_host_id="n", hostname="n"),
        "team_secret": enroll_secrets.add(team, "team-a-secret").secret,
        "global_secret": enroll_secrets.add(None, "global-secret").secret,
        "member": observer,
        "global_query": Query.objects.create(name="matrix query", query="SELECT 1"),
        "invite": Invite.objects.create(
            email="invited@example.com",
            global_role="observer",
            token_digest="0" * 64,
            expires_at=timezone.now() + timedelta(days=1),
        ),
        "team_installer": _installer(team),
    }


def _call(world: dict[str, Any], persona: str, operation: str) -> Any:
    client, own_id = world["clients"][persona], world["user_ids"][persona]
    team, host, free = world["team"], world["team_host"], world["free_host"]
    base = "/api/latest/fleet"
    scheduling = {"query_id": world["global_query"].pk, "interval": 60}
    calls: dict[str, Callable[[], Any]] = {
        "team_host:read": lambda: client.get(f"{base}/hosts/{host.pk}"),
        "team_host:write": lambda: client.post(f"{base}/hosts/transfer", {"team_id": team.pk, "hosts": [host.pk]}),
        "team_host_health:read": lambda: client.get(f"{base}/hosts/{host.pk}/health"),
        "team_host_labels:write": lambda: client.post(f"{base}/hosts/{host.pk}/labels", {"labels": []}),
        "unassigned_host:read": lambda: client.get(f"{base}/hosts/{free.pk}"),
        "unassigned_host:write": lambda: client.post(f"{base}/hosts/transfer", {"team_id": None, "hosts": [free.pk]}),
        "team:read": lambda: client.get(f"{base}/teams/{team.pk}"),
        "team:write": lambda: client.patch(f"{base}/teams/{team.pk}", {"description": "changed"}),
        "team_members:write": lambda: client.patch(
            f"{base}/teams/{team.pk}/users", {"users": [{"id": world["member"].pk, "role": "observer"}]}
        ),
        "team_agent_options:write": lambda: client.post(f"{base}/teams/{team.pk}/agent_options", {}),
        "team_secrets:read": lambda: client.get(f"{base}/teams/{team.pk}/secrets"),
        "team_secrets:write": lambda: client.patch(
            f"{base}/teams/{team.pk}/secrets", {"secrets": [{"secret": world["team_secret"]}]}
        ),
        "global_secrets:read": lambda: client.get(f"{base}/spec/enroll_secret"),
        "global_secrets:write": lambda: client.post(
            f"{base}/spec/enroll_secret", {"spec": {"secrets": [{"secret": world["global_secret"]}]}}
        ),
        "users:read": lambda: client.get(f"{base}/users"),
        "users:write": lambda: client.post(f"{base}/users/admin", {}),
        "invites:write": lambda: client.post(f"{base}/invites", {}),
        "config:read": lambda: client.get(f"{base}/config"),
        "config:write": lambda: client.patch(f"{base}/config", {}),
        "config_certificate:read": lambda: _with_served_certificate(client.get, f"{base}/config/certificate"),
        "activities:read": lambda: client.get(f"{base}/activities"),
        "software:read": lambda: client.get(f"{base}/software/titles"),
        "software_legacy:read": lambda: client.get(f"{base}/software"),
        "vulnerabilities:read": lambda: client.get(f"{base}/vulnerabilities"),
        "os_versions:read": lambda: client.get(f"{base}/os_versions"),
        "team_vulnerabilities:read": lambda: client.get(f"{base}/vulnerabilities", {"team_id": team.pk}),
        "team_os_versions:read": lambda: client.get(f"{base}/os_versions", {"team_id": team.pk}),
        "team_host_device_mapping:read": lambda: client.get(f"{base}/hosts/{host.pk}/device_mapping"),
        "team_host_device_mapping:write": lambda: client.client.put(
            f"{base}/hosts/{host.pk}/device_mapping",
            b'{"email": "a@example.com"}',
            content_type="application/json",
            headers=client.headers,
        ),
        "team_host_device_mapping_idp:write": lambda: client.delete(f"{base}/hosts/{host.pk}/device_mapping/idp"),
        "team_create:write": lambda: client.post(f"{base}/teams", {"name": ""}),
        "admin_api_token:write": lambda: client.post(f"{base}/api_tokens", {"name": "x", "role": "admin"}),
        "own_account:write": lambda: client.patch(f"{base}/users/{own_id}", {"name": "renamed"}),
        "own_password:write": lambda: client.post(
            f"{base}/change_password", {"old_password": "wrong", "new_password": "Another-pass-123!"}
        ),
        "packs:read": lambda: client.get(f"{base}/packs"),
        "packs:write": lambda: client.post(f"{base}/packs", {"name": ""}),
        "global_schedule:write": lambda: client.post(f"{base}/schedule", scheduling),
        "team_schedule:read": lambda: client.get(f"{base}/fleets/{team.pk}/schedule"),
        "team_schedule:write": lambda: client.post(f"{base}/fleets/{team.pk}/schedule", scheduling),
        "team_script:read": lambda: client.get(f"{base}/scripts", {"team_id": team.pk}),
        "team_script:write": lambda: client.client.post(
            f"{base}/scripts",
            {"script": SimpleUploadedFile("a.sh", b"echo"), "team_id": team.pk},
            headers=client.headers,
        ),
        "script_run:write": lambda: _run_script(client, host),
        "query_specs:read": lambda: client.get(f"{base}/spec/queries"),
        "global_query_specs:write": lambda: client.post(
            f"{base}/spec/queries", {"specs": [{"name": "spec q", "query": "SELECT 1"}]}
        ),
        "team_query_specs:write": lambda: client.post(
            f"{base}/spec/reports", {"specs": [{"name": "spec q", "query": "SELECT 1", "team": team.name}]}
        ),
        "global_policy_specs:write": lambda: client.post(
            f"{base}/spec/policies", {"specs": [{"name": "spec p", "query": "SELECT 1"}]}
        ),
        "label_specs:read": lambda: client.get(f"{base}/spec/labels"),
        "team_specs:write": lambda: client.post(f"{base}/spec/fleets?dry_run=true", {"specs": [{"name": team.name}]}),
        "user_role_specs:write": lambda: client.post(f"{base}/users/roles/spec", {"spec": {"roles": {}}}),
        "secret_variables:read": lambda: client.get(f"{base}/custom_variables"),
        "secret_variables:write": lambda: client._call(
            "put", f"{base}/spec/secret_variables", {"secrets": [{"name": "MATRIX", "value": "v"}]}
        ),
        "member_sessions:read": lambda: client.get(f"{base}/users/{world['member'].pk}/sessions"),
        "member_sessions:write": lambda: client.delete(f"{base}/users/{world['member'].pk}/sessions"),
        "own_sessions:read": lambda: client.get(f"{base}/users/{own_id}/sessions"),
        "require_password_reset:write": lambda: client.post(
            f"{base}/users/{world['member'].pk}/require_password_reset", {"require": False}
        ),
        "invite_edit:write": lambda: client.patch(f"{base}/invites/{world['invite'].pk}", {"name": "edited"}),
        "trigger:write": lambda: client.post(f"{base}/trigger?name=automations"),
        "version:read": lambda: client.get(f"{base}/version"),
        "team_host_lock:write": lambda: client.post(f"{base}/hosts/{host.pk}/lock"),
        "team_installer:read": lambda: client.post(
            f"{base}/software/titles/{world['team_installer'].title_id}/package/token?alt=media&team_id={team.pk}"
        ),
        "team_installer:write": lambda: client.client.post(
            f"{base}/software/package",
            {"software": SimpleUploadedFile("a.deb", b"not a deb"), "team_id": team.pk},
            headers=client.headers,
        ),
        "software_install:write": lambda: client.post(
            f"{base}/hosts/{host.pk}/software/{world['team_installer'].title_id}/install"
        ),
    }
    return calls[operation]()


def _installer(team: Team) -> SoftwareInstaller:
    """A package offered to team A (its bytes are never read by the matrix)."""
    title = Software.objects.create(name="hello", source="deb_packages", checksum="matrix-hello")
    return SoftwareInstaller.objects.create(
        team=team, title=title, filename="hello.deb", extension="deb", platform="linux", storage_id="0" * 64
    )


def _with_served_certificate(get: Callable[[str], Any], url: str) -> Any:
    """`serve --tls` has made its certificate: the route then answers the chain to those allowed."""
    from django.conf import settings

    from fleetsite.lib.selfsigned import ensure_certificate

    ensure_certificate(Path(settings.DATA_DIR) / "tls", [])
    return get(url)


def _run_script(client: APIClient, host: Host) -> Any:
    """Scripts run through fleetd only: give the host an orbit key first."""
    Host.objects.filter(pk=host.pk).update(orbit_node_key_digest="0" * 64)
    return client.post("/api/latest/fleet/scripts/run", {"host_id": host.pk, "script_contents": "echo"})


PERSONAS = sorted(EVERYONE)


@pytest.mark.parametrize("operation", sorted(ALLOWED))
@pytest.mark.parametrize("persona", PERSONAS)
def test_permission_matrix(world: dict[str, Any], persona: str, operation: str) -> None:
    response = _call(world, persona, operation)
    kind = operation.split(":")[0]
    if persona in ALLOWED[operation]:
        # Allowed: anything but a permission answer (validation errors are fine: the check passed).
        assert response.status_code not in (401, 403, 404), (persona, operation, response.content[:300])
    elif (kind in TEAM_A_OBJECTS and persona not in GLOBAL | TEAM_A) or (
        kind == "unassigned_host" and persona not in GLOBAL
    ):
        assert response.status_code == 404, (persona, operation, response.status_code)
    else:
        assert response.status_code == 403, (persona, operation, response.status_code, response.content[:300])
        assert response.json()["message"] == "Permission Denied"


def test_nobody_can_change_or_delete_activities(world: dict[str, Any]) -> None:
    for client in world["clients"].values():
        assert client.post("/api/latest/fleet/activities", {"type": "x"}).status_code == 405
        assert client.delete("/api/latest/fleet/activities").status_code == 405


def test_team_users_see_only_their_teams_hosts_in_lists(world: dict[str, Any]) -> None:
    outsider_hosts = world["clients"]["outsider"].get("/api/latest/fleet/hosts").json()["hosts"]
    observer_hosts = world["clients"]["a_observer"].get("/api/latest/fleet/hosts").json()["hosts"]
    global_hosts = world["clients"]["g_observer"].get("/api/latest/fleet/hosts").json()["hosts"]
    assert outsider_hosts == []
    assert [h["hostname"] for h in observer_hosts] == ["a"]
    assert {h["hostname"] for h in global_hosts} == {"a", "n"}


def test_a_capped_token_mints_tokens_only_within_its_cap(world: dict[str, Any]) -> None:
    """Issue 12, finding 1: an observer-capped token got an admin token, then created a team."""
    capped = world["clients"]["token_observer"]
    base = "/api/latest/fleet"
    refused = capped.post(f"{base}/api_tokens", {"name": "escalate", "role": "admin"})
    assert refused.status_code == 403
    assert "above your own" in refused.json()["errors"][0]["reason"]
    # Without a role the new token inherits the cap, not the owner's full rights.
    inherited = capped.post(f"{base}/api_tokens", {"name": "child"})
    assert inherited.status_code == 200
    assert inherited.json()["api_token"]["role"] == "observer"
    child = APIClient(inherited.json()["token"])
    assert child.post(f"{base}/teams", {"name": "made by a child token"}).status_code == 403
    assert capped.post(f"{base}/api_tokens", {"name": "same", "role": "observer"}).status_code == 200


def test_a_team_user_cannot_mint_a_token_above_their_role(world: dict[str, Any]) -> None:
    response = world["clients"]["a_observer"].post("/api/latest/fleet/api_tokens", {"name": "x", "role": "admin"})
    assert response.status_code == 403
