"""Server routes: /version, /trigger, the Premium license in /config, and the refused Fleet routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from django.conf import settings
from django.test import Client

from accounts.models import Team, User
from conftest import APIClient
from fleetsite.api import refused, server
from fleetsite.celery import app
from hosts.models import Host

pytestmark = pytest.mark.django_db
BASE = "/api/latest/fleet"


# --- Version ---------------------------------------------------------------------------------


def test_rest_version_needs_a_user_as_fleetctl_expects(api: APIClient, api_client_as: Callable[..., APIClient]) -> None:
    """fleetctl calls it to check its token: a bad or missing token must be a 401."""
    assert api_client_as(None).get(f"{BASE}/version").status_code == 401
    assert APIClient("not-a-token").get("/api/v1/fleet/version").status_code == 401
    body = api.get(f"{BASE}/version").json()
    assert set(body) == {"version", "branch", "revision", "go_version", "build_date", "build_user"}


def test_version_reports_the_release_and_the_build(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        server.version,
        "build",
        lambda: {"revision": "0123456789abcdef", "branch": "main", "build_date": "2026-12-05T00:00:00Z"},
    )
    body = orjson.loads(client.get("/version").content)  # the root /version stays public, as in Fleet
    assert body["version"] == f"{settings.FLEETSITE_VERSION}+g0123456"
    assert body["revision"] == "0123456789abcdef" and body["build_date"] == "2026-12-05T00:00:00Z"


def test_the_release_number_comes_from_pyproject() -> None:
    pyproject = (settings.BASE_DIR / "pyproject.toml").read_text()
    assert f'version = "{settings.FLEETSITE_VERSION}"' in pyproject


# --- Trigger ---------------------------------------------------------------------------------


def test_every_fleet_schedule_maps_to_registered_beat_jobs() -> None:
    app.loader.import_default_modules()
    for jobs in server.FLEET_SCHEDULES.values():
        for job in jobs:
            assert settings.CELERY_BEAT_SCHEDULE[job]["task"] in app.tasks


def test_trigger_queues_the_schedules_jobs_after_commit(
    api: APIClient, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    app.loader.import_default_modules()
    ran: list[str] = []
    for job in server.FLEET_SCHEDULES["cleanups_then_aggregation"]:
        task = app.tasks[settings.CELERY_BEAT_SCHEDULE[job]["task"]]
        monkeypatch.setattr(task, "apply_async", lambda *a, job=job, **kw: ran.append(job))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(f"{BASE}/trigger?name=cleanups_then_aggregation")
    assert response.status_code == 200 and response.json() == {}
    assert ran == []  # nothing runs before the commit
    for callback in callbacks:
        callback()
    assert ran == list(server.FLEET_SCHEDULES["cleanups_then_aggregation"])


def test_trigger_with_an_unknown_name_is_fleets_404_listing_the_names(api: APIClient) -> None:
    response = api.post(f"{BASE}/trigger?name=vulnerabilities")
    assert response.status_code == 404
    assert response.json()["errors"][0]["reason"] == (
        "invalid name; supported trigger names are automations, cleanups_then_aggregation, and frequent_cleanups"
    )
    assert api.post(f"{BASE}/trigger").status_code == 404


def test_only_global_admins_trigger(
    global_maintainer: User, team_admin: User, api_client_as: Callable[..., APIClient]
) -> None:
    for user in (global_maintainer, team_admin):
        assert api_client_as(user).post(f"{BASE}/trigger?name=automations").status_code == 403
    assert api_client_as(None).post(f"{BASE}/trigger?name=automations").status_code == 401


# --- License ---------------------------------------------------------------------------------


def test_config_reports_a_premium_license_with_fleets_keys(
    api_client_as: Callable[..., APIClient], observer: User
) -> None:
    license_info = api_client_as(observer).get(f"{BASE}/config").json()["license"]
    assert license_info["tier"] == "premium"
    assert {"tier", "organization", "device_count", "expiration", "note", "allow_disable_telemetry"} <= set(
        license_info
    )


# --- Refused routes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("get", "/api/v1/fleet/scim/details", 402, refused.MISSING_LICENSE),
        ("post", f"{BASE}/conditional-access/microsoft", 402, refused.MISSING_LICENSE),
        ("delete", f"{BASE}/conditional-access/microsoft", 402, refused.MISSING_LICENSE),
        ("post", f"{BASE}/conditional-access/microsoft/confirm", 402, refused.MISSING_LICENSE),
        ("post", f"{BASE}/autofill/policy", 400, refused.AI_FEATURES_DISABLED),
        ("get", f"{BASE}/software/fleet_maintained_apps", 400, refused.NO_MAINTAINED_APPS),
        ("post", f"{BASE}/software/fleet_maintained_apps", 400, refused.NO_MAINTAINED_APPS),
        ("get", f"{BASE}/software/fleet_maintained_apps/3", 400, refused.NO_MAINTAINED_APPS),
    ],
)
def test_premium_integrations_answer_fleets_missing_license_to_users_only(
    api: APIClient, api_client_as: Callable[..., APIClient], method: str, path: str, status: int, message: str
) -> None:
    assert getattr(api_client_as(None), method)(path).status_code == 401
    response = getattr(api, method)(path)
    assert response.status_code == status
    assert response.json() == {"message": message, "errors": [{"name": "base", "reason": message}]}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", f"{BASE}/conditional_access/idp/signing_cert", 402),
        ("post", f"{BASE}/calendar/webhook/a1b2c3d4-0000-4000-8000-000000000001", 402),
        ("post", f"{BASE}/device/sometoken/bypass_conditional_access", 402),
    ],
)
def test_public_refusals_need_no_user(
    api_client_as: Callable[..., APIClient], method: str, path: str, status: int
) -> None:
    response = getattr(api_client_as(None), method)(path)
    assert response.status_code == status
    assert response.json()["message"] == refused.MISSING_LICENSE


@pytest.mark.parametrize("action", ["lock", "unlock", "wipe"])
def test_host_lock_and_wipe_say_mdm_is_off_after_the_permission_checks(
    action: str,
    team: Team,
    api: APIClient,
    observer: User,
    outsider: User,
    api_client_as: Callable[..., APIClient],
) -> None:
    host = Host.objects.create(osquery_host_id="h", hostname="h", team=team)
    url = f"{BASE}/hosts/{host.pk}/{action}"
    assert api_client_as(outsider).post(url).status_code == 404  # cannot see team A's host
    assert api_client_as(observer).post(url).status_code == 403  # sees it, may not act on it
    response = api.post(url)
    assert response.status_code == 400
    assert response.json()["message"] == refused.MDM_NOT_CONFIGURED
    assert api.post(f"{BASE}/hosts/999999/{action}").status_code == 404
