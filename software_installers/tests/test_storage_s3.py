"""Installers stored in S3 when a bucket is configured: moto's S3 server on a loopback port stands in."""

from __future__ import annotations

import boto3
import pytest
from moto.server import ThreadedMotoServer

from fleetsite.liveserver import free_port
from software_installers import storage
from software_installers.tests.conftest import BASE, ORBIT, make_deb, upload

pytestmark = pytest.mark.django_db

BUCKET = "fleet-installers"


@pytest.fixture
def s3(settings):
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint, **credentials)
    client.create_bucket(Bucket=BUCKET)
    settings.FLEETSITE_S3_SOFTWARE_INSTALLERS_BUCKET = BUCKET
    settings.FLEETSITE_S3_SOFTWARE_INSTALLERS_PREFIX = "installers"
    settings.FLEETSITE_S3_SOFTWARE_INSTALLERS_REGION = "us-east-1"
    settings.FLEETSITE_S3_SOFTWARE_INSTALLERS_ENDPOINT_URL = endpoint
    settings.FLEETSITE_S3_SOFTWARE_INSTALLERS_ACCESS_KEY_ID = "testing"
    settings.FLEETSITE_S3_SOFTWARE_INSTALLERS_SECRET_ACCESS_KEY = "testing"
    yield client
    server.stop()


def test_upload_lands_in_the_bucket_and_fleetd_downloads_it(api, agent, team, orbit_host, s3):
    response = upload(api, f"{BASE}/software/package", "hello.deb", make_deb(), team_id=team.pk)
    assert response.status_code == 200, response.content
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("installers/")
    assert s3.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read() == make_deb()

    title_id = response.json()["software_package"]["title_id"]
    assert api.post(f"{BASE}/hosts/{orbit_host.host.pk}/software/{title_id}/install").status_code == 202
    installer_id = response.json()["software_package"]["installer_id"]
    package = agent.post(
        f"{ORBIT}/software_install/package", {"orbit_node_key": orbit_host.key, "installer_id": installer_id}
    )
    assert package.status_code == 200
    assert b"".join(package.streaming_content) == make_deb()


def test_deleting_the_last_user_of_the_bytes_removes_them(api, team, s3, django_capture_on_commit_callbacks):
    response = upload(api, f"{BASE}/software/package", "hello.deb", make_deb(), team_id=team.pk)
    title_id = response.json()["software_package"]["title_id"]
    with django_capture_on_commit_callbacks(execute=True):
        api.delete(f"{BASE}/software/titles/{title_id}/available_for_install?team_id={team.pk}")
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_the_backend_follows_settings(settings, s3):
    assert type(storage.installer_storage()).__name__ == "S3Storage"
    settings.FLEETSITE_S3_SOFTWARE_INSTALLERS_BUCKET = ""
    assert type(storage.installer_storage()).__name__ == "FileSystemStorage"
