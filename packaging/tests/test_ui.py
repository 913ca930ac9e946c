"""The build page: admins only, builds through the packager's code path, polls, links the download, shows logs."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from enrollment.models import EnrollSecret
from packaging.models import PackageBuild
from packaging.tests.conftest import Served

FORM = {
    "type": "deb",
    "arch": "amd64",
    "fleet_url": "https://fleet.example.com",
    "service": "on",
    "orbit_channel": "stable",
    "osqueryd_channel": "stable",
    "desktop_channel": "stable",
    "update_interval": "15m",
}


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_page_requires_an_admin_login(client: Client, observer: Any) -> None:
    response = client.get("/packages/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert logged_in(observer).get("/packages/").status_code == 403


def test_page_offers_types_and_visible_secrets_and_loads_htmx(admin: Any, enroll_secret: str) -> None:
    page = logged_in(admin).get("/packages/").content.decode()
    for package_type in ("deb", "rpm", "pkg", "msi"):
        assert f'value="{package_type}"' in page
    assert "Global secret #" in page and enroll_secret not in page  # ids in the form, never the secret
    # The site's own layout: the top bar (with this page marked) and its htmx.
    assert '<a href="/packages/" aria-current="page">fleetd installers</a>' in page
    assert "/static/vendor/htmx.min.js" in page and finders.find("vendor/htmx.min.js") is not None


@pytest.mark.parametrize("package_type", ["deb", "msi"])
def test_build_from_the_page_then_poll_and_download(
    repo_settings: Served, admin: Any, enroll_secret: str, package_type: str, django_capture_on_commit_callbacks: Any
) -> None:
    client = logged_in(admin)
    secret_id = EnrollSecret.objects.get().pk
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/packages/", {**FORM, "type": package_type, "secret": secret_id}, headers={"HX-Request": "true"}
        )
    assert response.status_code == 200
    build = PackageBuild.objects.get()
    assert build.package_type == package_type and build.requested_by == admin
    partial = client.get(f"/packages/{build.package_id}/status/").content.decode()
    assert 'data-status="success"' in partial and "hx-trigger" not in partial  # done: polling stops
    assert f'href="/api/packager/download/{build.package_id}"' in partial
    download = client.get(f"/api/packager/download/{build.package_id}")
    assert download.status_code == 200 and download["Content-Disposition"].endswith(f'"{build.filename}"')


def test_in_progress_polls_and_failure_shows_the_log(
    repo_settings: Served, admin: Any, enroll_secret: str, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.REDIS_URL = ""  # builds run in-process: no "no worker" notice in place of the progress bar
    client = logged_in(admin)
    secret_id = EnrollSecret.objects.get().pk
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/packages/", {**FORM, "secret": secret_id, "orbit_channel": "edge"})
    assert response.status_code == 302
    build = PackageBuild.objects.get()
    page = client.get(response["Location"]).content.decode()
    assert 'hx-trigger="every 1s"' in page and "<progress" in page and "queued" in page
    from packaging.service import run_build

    run_build(build.pk)
    partial = client.get(f"/packages/{build.package_id}/status/").content.decode()
    assert 'data-status="fail"' in partial and "orbit/linux/edge/orbit" in partial


def test_bad_form_input_is_shown(repo_settings: Served, admin: Any, enroll_secret: str) -> None:
    client = logged_in(admin)
    secret_id = EnrollSecret.objects.get().pk
    response = client.post("/packages/", {**FORM, "secret": secret_id, "update_interval": "soon"})
    assert response.status_code == 422
    assert "is not a duration" in response.content.decode()
    assert not PackageBuild.objects.exists()


def test_missing_tuf_repository_is_shown_where_the_user_pressed_build(admin: Any, enroll_secret: str) -> None:
    """htmx swaps only 2xx answers, so the reason a build cannot start comes back as a swappable partial."""
    client = logged_in(admin)
    secret_id = EnrollSecret.objects.get().pk
    response = client.post("/packages/", {**FORM, "secret": secret_id}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and 'role="alert"' in html
    assert "The build did not start." in html and "no TUF repository" in html
    assert not PackageBuild.objects.exists()
