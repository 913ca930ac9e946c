"""Carve bytes in Django storage: the data directory by default, S3 (moto's real server on a loopback
port) when its settings name a bucket. Blocks are objects while the carve uploads, then one file."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from carves import service, storage
from carves.models import Carve, CarveBlock
from carves.tests.test_carves import begin, block
from fleetsite.liveserver import free_port

BUCKET = "fleet-carves"
DATA = [b"abcd", b"efg"]


@pytest.fixture(autouse=True)
def _eager(eager_celery: None) -> None:
    """The assembly task runs in the test when the last block's transaction commits."""


@pytest.fixture
def s3(settings: Any) -> Iterator[Any]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="t", aws_secret_access_key="t"
    )
    client.create_bucket(Bucket=BUCKET)
    settings.FLEETSITE_S3_CARVES_BUCKET = BUCKET
    settings.FLEETSITE_S3_CARVES_PREFIX = "carves"
    settings.FLEETSITE_S3_CARVES_REGION = "us-east-1"
    settings.FLEETSITE_S3_CARVES_ENDPOINT_URL = endpoint
    settings.FLEETSITE_S3_CARVES_ACCESS_KEY_ID = "t"
    settings.FLEETSITE_S3_CARVES_SECRET_ACCESS_KEY = "t"
    yield client
    server.stop()


def keys(client: Any) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def upload(agent: Any, host: Any, capture: Any) -> Carve:
    session = begin(agent, host)["session_id"]
    block(agent, session, 0, DATA[0])
    with capture(execute=True):
        block(agent, session, 1, DATA[1])
    return Carve.objects.get(session_id=session)


def download(api: Any, carve: Carve) -> bytes:
    response = api.get(f"/api/latest/fleet/carves/{carve.pk}/download")
    assert response.status_code == 200 and response.streaming
    return b"".join(response.streaming_content)


def test_blocks_go_to_the_data_dir_and_are_assembled_into_one_file(
    agent: Any, ubuntu_host: Any, api: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    session = begin(agent, ubuntu_host)["session_id"]
    block(agent, session, 0, DATA[0])
    root = Path(settings.DATA_DIR) / "carves"
    assert (root / session / "block-00000000").read_bytes() == b"abcd"
    assert CarveBlock.objects.get().data in (b"", memoryview(b""))  # the database holds no carve bytes
    with django_capture_on_commit_callbacks(execute=True):
        block(agent, session, 1, DATA[1])
    carve = Carve.objects.get()
    assert carve.assembled
    assert (root / f"{session}.tar").read_bytes() == b"abcdefg"
    assert not list((root / session).iterdir())
    assert download(api, carve) == b"abcdefg"
    assert api.get(f"/api/latest/fleet/carves/{carve.pk}/block/1").json() == {"data": base64.b64encode(b"efg").decode()}
    Carve.objects.filter(pk=carve.pk).update(created_at=carve.created_at.replace(year=2000))
    assert service.expire_old(7) == 1
    assert not (root / f"{session}.tar").exists()


def test_a_carve_not_yet_assembled_downloads_from_its_blocks(
    agent: Any, ubuntu_host: Any, api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    carve = upload(agent, ubuntu_host, django_capture_on_commit_callbacks)
    Carve.objects.filter(pk=carve.pk).update(assembled=False)
    # As if the worker has not run yet: blocks were removed by assembly, so put them back.
    carve.refresh_from_db()
    for block_id, data in enumerate(DATA):
        storage.save_block(carve, block_id, data)
    assert download(api, carve) == b"abcdefg"


def test_blocks_from_before_storage_still_download(agent: Any, ubuntu_host: Any, api: Any) -> None:
    carve = Carve.objects.create(
        host=ubuntu_host.host, name="old", session_id="old-session", request_id="r", carve_id="c",
        block_count=2, block_size=4, carve_size=7, max_block=1,
    )  # fmt: skip
    for block_id, data in enumerate(DATA):
        CarveBlock.objects.create(carve=carve, block_id=block_id, data=data)
    assert download(api, carve) == b"abcdefg"
    assert storage.assemble(carve) and download(api, carve) == b"abcdefg"


def test_carves_in_s3(agent: Any, ubuntu_host: Any, api: Any, s3: Any, django_capture_on_commit_callbacks: Any) -> None:
    session = begin(agent, ubuntu_host)["session_id"]
    block(agent, session, 0, DATA[0])
    assert keys(s3) == [f"carves/{session}/block-00000000"]
    with django_capture_on_commit_callbacks(execute=True):
        block(agent, session, 1, DATA[1])
    carve = Carve.objects.get()
    assert carve.assembled and keys(s3) == [f"carves/{session}.tar"]
    assert s3.get_object(Bucket=BUCKET, Key=f"carves/{session}.tar")["Body"].read() == b"abcdefg"
    assert download(api, carve) == b"abcdefg"
    assert api.get(f"/api/latest/fleet/carves/{carve.pk}/block/0").json() == {
        "data": base64.b64encode(b"abcd").decode()
    }
    assert type(storage.carve_storage()).__name__ == "S3Storage"


def test_the_download_is_streamed_in_chunks(
    agent: Any, ubuntu_host: Any, api: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    monkeypatch.setattr(storage, "CHUNK", 3)
    carve = upload(agent, ubuntu_host, django_capture_on_commit_callbacks)
    response = api.get(f"/api/latest/fleet/carves/{carve.pk}/download")
    assert list(response.streaming_content) == [b"abc", b"def", b"g"]
