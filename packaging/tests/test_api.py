"""The packager API (seed 003): create, status, download, dedupe, retry, expiry and rate limits."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.test import Client
from django.utils import timezone

from packaging.choices import BuildStatus
from packaging.models import PackageBuild
from packaging.service import expire_packages, package_dir, secure_delete
from packaging.tasks import expire_packages as expire_packages_task
from packaging.tests.conftest import FLEET_URL, Served

CREATE, STATUS = "/api/packager/create", "/api/packager/status"


@pytest.fixture
def anon(db: None) -> Client:
    return Client()


def post(client: Any, body: Any, **extra: Any) -> Any:
    if isinstance(client, Client):
        return client.post(CREATE, orjson.dumps(body), content_type="application/json", **extra)
    return client.post(CREATE, body)


def body(secret: str, **extra: Any) -> dict[str, Any]:
    return {"type": "deb", "fleet_url": FLEET_URL, "enroll_secret": secret, **extra}


def status(client: Client, package_id: str) -> dict[str, Any]:
    response = client.get(STATUS, {"package_id": package_id})
    assert response.status_code == 200, response.content
    return response.json()


def test_create_build_status_and_download(
    repo_settings: Served, anon: Client, enroll_secret: str, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = post(anon, body(enroll_secret, debug=True, **{"orbit-channel": "1.40", "update-interval": "1h"}))
    assert response.status_code == 200, response.content
    package_id = response.json()["package_id"]
    assert uuid.UUID(package_id).version == 4
    state = status(anon, package_id)
    assert state == {"status": "success", "download_url": f"http://testserver/api/packager/download/{package_id}"}
    build = PackageBuild.objects.get(package_id=package_id)
    assert build.options == {}  # the secret is not kept once the build is done
    path = package_dir(build) / build.filename
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    download = anon.get(f"/api/packager/download/{package_id}")
    assert download.status_code == 200
    data = b"".join(download.streaming_content)
    assert data == path.read_bytes() and hashlib.sha256(data).hexdigest() == build.sha256
    assert download["Content-Disposition"] == f'attachment; filename="{build.filename}"'
    assert (
        anon.get(f"/api/packager/download/{package_id}", headers={"If-None-Match": download["ETag"]}).status_code == 304
    )
    assert b"ORBIT_UPDATE_INTERVAL=1h0m0s" in _env_file(path)


def _env_file(deb: Path) -> bytes:
    import subprocess

    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True).stdout
    return subprocess.run(["tar", "-xO", "./etc/default/orbit"], input=tar, capture_output=True, check=True).stdout


def test_identical_requests_share_one_build(
    repo_settings: Served, anon: Client, enroll_secret: str, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = post(anon, body(enroll_secret)).json()["package_id"]
        second = post(anon, body(enroll_secret)).json()["package_id"]
    assert first == second and len(callbacks) == 1  # answered from the dedupe, not rebuilt
    with django_capture_on_commit_callbacks(execute=False):
        other = post(anon, body(enroll_secret, debug=True)).json()["package_id"]
    assert other != first
    assert status(anon, other) == {"status": "in-progress", "stage": "queued"}


def test_failed_build_keeps_its_id_until_retry(
    repo_settings: Served, anon: Client, enroll_secret: str, django_capture_on_commit_callbacks: Any
) -> None:
    request = body(enroll_secret, **{"orbit-channel": "edge"})  # no such channel in the repository
    with django_capture_on_commit_callbacks(execute=True):
        failed = post(anon, request).json()["package_id"]
        again = post(anon, request).json()["package_id"]
    state = status(anon, failed)
    assert state["status"] == "fail" and "orbit/linux/edge/orbit" in state["logs"]
    assert enroll_secret not in state["logs"]
    assert again == failed
    assert not package_dir(PackageBuild.objects.get(package_id=failed)).exists()
    with django_capture_on_commit_callbacks(execute=True):
        retried = post(anon, {**request, "retry": True}).json()["package_id"]
    assert retried != failed and status(anon, retried)["status"] == "fail"
    with django_capture_on_commit_callbacks(execute=True):
        ok = post(anon, {**body(enroll_secret), "retry": True}).json()["package_id"]
    assert status(anon, ok)["status"] == "success"  # retry on a good build is just a create


def test_expired_packages_are_securely_deleted(
    repo_settings: Served, anon: Client, enroll_secret: str, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        package_id = post(anon, body(enroll_secret)).json()["package_id"]
    build = PackageBuild.objects.get(package_id=package_id)
    path = package_dir(build) / build.filename
    witness = path.with_name("witness")
    os.link(path, witness)  # a second name for the same inode shows what was written before unlink
    PackageBuild.objects.filter(pk=build.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert status(anon, package_id) == {"status": "expired"}
    assert expire_packages_task() == 1
    assert not path.exists()
    assert not witness.exists()  # the directory went too
    assert PackageBuild.objects.get(pk=build.pk).status == BuildStatus.EXPIRED
    assert anon.get(f"/api/packager/download/{package_id}").status_code == 404
    # A new identical request after expiry builds again under a new id.
    with django_capture_on_commit_callbacks(execute=True):
        assert post(anon, body(enroll_secret)).json()["package_id"] != package_id


def test_secure_delete_overwrites_before_unlinking(tmp_path: Path) -> None:
    target = tmp_path / "pkg" / "fleet-osquery.deb"
    target.parent.mkdir()
    target.write_bytes(b"secret-bearing installer" * 1000)
    witness = tmp_path / "witness"
    os.link(target, witness)
    secure_delete(target.parent)
    assert not target.parent.exists()
    assert witness.read_bytes() == bytes(len(b"secret-bearing installer" * 1000))


def test_expiry_job_removes_stray_directories(settings: Any, tmp_path: Path, db: None) -> None:
    settings.PACKAGER_DIR = tmp_path / "packages"
    stray = settings.PACKAGER_DIR / "leftover"
    stray.mkdir(parents=True)
    (stray / "half.deb").write_bytes(b"x")
    old = timezone.now().timestamp() - settings.PACKAGER_EXPIRY_SECONDS - 10
    os.utime(stray, (old, old))
    expire_packages()
    assert not stray.exists()


def test_create_rate_limit_is_per_client_ip(
    repo_settings: Served, anon: Client, enroll_secret: str, settings: Any
) -> None:
    settings.PACKAGER_RATE_CREATE = "2/min"
    for debug in (True, False):
        assert post(anon, body(enroll_secret, debug=debug), REMOTE_ADDR="10.0.0.1").status_code == 200
    limited = post(anon, body(enroll_secret), REMOTE_ADDR="10.0.0.1")
    assert limited.status_code == 429
    assert limited.json()["message"] == "Too Many Requests"
    assert post(anon, body(enroll_secret), REMOTE_ADDR="10.0.0.2").status_code == 200


def test_status_and_download_rate_limits_are_per_package(
    repo_settings: Served, anon: Client, enroll_secret: str, settings: Any
) -> None:
    settings.PACKAGER_RATE_STATUS = "2/min"
    first = post(anon, body(enroll_secret)).json()["package_id"]
    second = post(anon, body(enroll_secret, debug=True)).json()["package_id"]
    assert [anon.get(STATUS, {"package_id": first}).status_code for _ in range(3)] == [200, 200, 429]
    assert anon.get(STATUS, {"package_id": second}).status_code == 200
    settings.PACKAGER_RATE_DOWNLOAD = "1/min"
    codes = [anon.get(f"/api/packager/download/{second}").status_code for _ in range(2)]
    assert codes == [404, 429]  # not built yet, then limited


@pytest.mark.parametrize(
    ("payload", "code", "name"),
    [
        ([1, 2], 400, "base"),
        ({"type": "deb", "fleet_url": FLEET_URL, "enroll_secret": "x", "colour": "red"}, 400, "base"),
        ({"type": "deb", "fleet_url": FLEET_URL, "enroll_secret": "x", "insecure": "yes"}, 400, "insecure"),
        ({"type": "deb", "fleet_url": FLEET_URL, "enroll_secret": "x", "retry": 1}, 400, "retry"),
        ({"type": "exe", "fleet_url": FLEET_URL, "enroll_secret": "SECRET"}, 422, "type"),
        ({"type": "deb", "enroll_secret": "SECRET"}, 422, "fleet_url"),
        ({"type": "deb", "fleet_url": FLEET_URL}, 422, "enroll_secret"),
        ({"type": "deb", "fleet_url": FLEET_URL, "enroll_secret": "unknown-secret"}, 422, "enroll_secret"),
        ({"type": "deb", "fleet_url": FLEET_URL, "enroll_secret": "SECRET", "update-interval": "x"}, 422, None),
    ],
)
def test_bad_create_requests_get_fleet_errors(
    repo_settings: Served, anon: Client, enroll_secret: str, payload: Any, code: int, name: str | None
) -> None:
    if isinstance(payload, dict) and payload.get("enroll_secret") == "SECRET":
        payload = {**payload, "enroll_secret": enroll_secret}
    response = post(anon, payload)
    assert response.status_code == code, response.content
    error = response.json()
    assert set(error) == {"message", "errors"} and error["errors"][0]["reason"]
    if name:
        assert error["errors"][0]["name"] == name
    assert not PackageBuild.objects.exists()


def test_bad_status_and_download_requests(anon: Client) -> None:
    assert anon.get(STATUS).status_code == 400
    assert anon.get(STATUS, {"package_id": "nope"}).status_code == 400
    missing = anon.get(STATUS, {"package_id": str(uuid.uuid4())})
    assert missing.status_code == 404 and missing.json()["message"] == "Resource Not Found"
    assert anon.get(f"/api/packager/download/{uuid.uuid4()}").status_code == 404


def test_users_need_permission_for_the_secret(
    repo_settings: Served, api_client_as: Any, observer: Any, admin: Any, team_secret: str
) -> None:
    assert post(api_client_as(observer), body(team_secret)).status_code == 403
    assert post(api_client_as(admin), body(team_secret)).status_code == 200
    assert PackageBuild.objects.get().requested_by == admin


def test_standalone_packager_accepts_any_secret(repo_settings: Served, anon: Client, settings: Any) -> None:
    settings.FLEETSITE_MODE = "packager"
    assert post(anon, body("a-secret-of-another-fleet")).status_code == 200


def test_create_without_a_repository_is_refused_up_front(
    repo_settings: Served, anon: Client, enroll_secret: str, settings: Any, tmp_path: Path
) -> None:
    settings.FLEETSITE_TUF_DIR = tmp_path / "no-repo"
    response = post(anon, body(enroll_secret))
    assert response.status_code == 422 and "updates init" in response.json()["errors"][0]["reason"]
    assert not PackageBuild.objects.exists()
