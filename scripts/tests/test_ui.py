"""Scripts pages through Django's test client: the library, upload errors, edit, delete, batch runs,
outputs and the host page's Scripts tab, for each persona (observer, maintainer, another team's admin)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import Team, User
from activities.models import Activity
from hosts.models import Host
from scripts import constants as c
from scripts import service
from scripts.models import BatchExecution, Script, ScriptExecution

pytestmark = pytest.mark.django_db


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_host(name: str, team: Team | None, platform: str = "ubuntu", **fields: Any) -> Host:
    return Host.objects.create(
        osquery_host_id=name, hostname=name, team=team, platform=platform, orbit_node_key_digest=f"d-{name}", **fields
    )


@pytest.fixture
def script(team: Team) -> Script:
    return Script.objects.create(team=team, name="hello.sh", contents="#!/bin/sh\necho hello\n")


def upload(client: Client, team: Team | None, name: str, body: bytes) -> Any:
    return client.post(f"/scripts/?team_id={team.pk if team else 0}", {"script": SimpleUploadedFile(name, body)})


def test_maintainer_uploads_a_script_and_sees_it_listed(maintainer: User, team: Team) -> None:
    client = as_user(maintainer)
    response = upload(client, team, "hi.sh", b"#!/bin/bash\r\necho hi\r\n")
    assert response.status_code == 302
    script = Script.objects.get(name="hi.sh")
    assert script.team == team and script.contents == "#!/bin/bash\necho hi\n"
    page = client.get(f"/scripts/?team_id={team.pk}")
    assert b"hi.sh" in page.content and b"Upload a script" in page.content and b"Run on hosts" in page.content
    assert Activity.objects.filter(type="added_script").exists()


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("x.txt", b"echo hi", c.BAD_EXTENSION),
        ("x.sh", b"", c.EMPTY),
        ("x.sh", b"\xff\xfe\x00binary", c.NOT_TEXT),
        ("x.py", b"print(1)", c.PYTHON_SHEBANG),
        ("x.sh", b"#!/usr/bin/ruby\nputs 1", c.BAD_INTERPRETER),
    ],
)
def test_bad_uploads_show_fleets_message_on_the_form(
    maintainer: User, team: Team, name: str, body: bytes, message: str
) -> None:
    response = upload(as_user(maintainer), team, name, body)
    assert response.status_code == 400
    assert message.replace('"', "&quot;").encode() in response.content
    assert not Script.objects.exists()


def test_upload_without_a_file_and_a_taken_name(maintainer: User, team: Team, script: Script) -> None:
    client = as_user(maintainer)
    assert client.post(f"/scripts/?team_id={team.pk}", {}).status_code == 400
    response = upload(client, team, "hello.sh", b"echo again")
    assert response.status_code == 400 and c.NAME_TAKEN.encode() in response.content


def test_bad_team_ids_are_not_found(maintainer: User, team: Team) -> None:
    client = as_user(maintainer)
    for value in ("abc", "0", "999999", "-1"):
        assert client.get(f"/scripts/?team_id={value}").status_code == 404


def test_observer_reads_but_gets_no_write_controls(observer: User, team: Team, script: Script) -> None:
    client = as_user(observer)
    page = client.get(f"/scripts/?team_id={team.pk}")
    assert page.status_code == 200 and b"hello.sh" in page.content
    assert b"Upload a script" not in page.content and b"Run on hosts" not in page.content
    detail = client.get(f"/scripts/{script.pk}/")
    assert b"echo hello" in detail.content and b"disabled" in detail.content and b">Save<" not in detail.content
    assert client.post(f"/scripts/{script.pk}/", {"contents": "echo evil"}).status_code == 403
    assert client.post(f"/scripts/{script.pk}/delete/", {"confirm": "1"}).status_code == 403
    assert client.get(f"/scripts/{script.pk}/run/").status_code == 403
    assert upload(client, team, "x.sh", b"echo hi").status_code == 403
    script.refresh_from_db()
    assert script.contents.endswith("echo hello\n")


def test_another_teams_admin_sees_nothing(outsider: User, team: Team, script: Script) -> None:
    client = as_user(outsider)
    assert client.get(f"/scripts/?team_id={team.pk}").status_code == 404
    for path in (f"/scripts/{script.pk}/", f"/scripts/{script.pk}/run/", f"/scripts/{script.pk}/delete/"):
        assert client.get(path).status_code == 404
    assert client.post(f"/scripts/{script.pk}/delete/", {"confirm": "1"}).status_code == 404
    assert Script.objects.filter(pk=script.pk).exists()
    # Their own team's list is theirs, and does not show team A's script.
    assert b"hello.sh" not in client.get("/scripts/").content


def test_edit_validates_and_saves(maintainer: User, script: Script) -> None:
    client = as_user(maintainer)
    response = client.post(f"/scripts/{script.pk}/", {"contents": ""})
    assert response.status_code == 400 and c.EMPTY.encode() in response.content
    assert client.post(f"/scripts/{script.pk}/", {"contents": "#!/bin/sh\r\necho new\r\n"}).status_code == 302
    script.refresh_from_db()
    assert script.contents == "#!/bin/sh\necho new\n"


def test_delete_asks_first_naming_the_script(maintainer: User, script: Script) -> None:
    client = as_user(maintainer)
    confirm = client.get(f"/scripts/{script.pk}/delete/")
    assert b"Delete the script hello.sh?" in confirm.content
    assert Script.objects.filter(pk=script.pk).exists()
    assert client.post(f"/scripts/{script.pk}/delete/", {"confirm": "1"}).status_code == 302
    assert not Script.objects.filter(pk=script.pk).exists()


def test_run_on_picked_hosts_then_progress_and_cancel(
    maintainer: User, team: Team, other_team: Team, script: Script
) -> None:
    one, two = make_host("alpha", team), make_host("beta", team)
    windows = make_host("gamma", team, platform="windows")
    stranger = make_host("delta", other_team)
    client = as_user(maintainer)
    page = client.get(f"/scripts/{script.pk}/run/?q=a")
    assert b"alpha" in page.content and b"delta" not in page.content
    # A host of another team, an empty choice and junk are refused without a 500.
    assert client.post(f"/scripts/{script.pk}/run/", {"ids": [one.pk, stranger.pk]}).status_code == 400
    assert client.post(f"/scripts/{script.pk}/run/", {"ids": ["x"]}).status_code == 400
    assert client.post(f"/scripts/{script.pk}/run/", {}).status_code == 400
    assert not BatchExecution.objects.exists()
    response = client.post(f"/scripts/{script.pk}/run/", {"ids": [one.pk, two.pk, windows.pk]})
    batch = BatchExecution.objects.get()
    assert response.url == f"/scripts/batches/{batch.batch_execution_id}/"
    progress = client.get(response.url)
    assert b'hx-trigger="every 2s"' in progress.content
    assert b'data-count="pending">2<' in progress.content and b'data-count="incompatible">1<' in progress.content
    execution = ScriptExecution.objects.filter(host=one).get()
    execution.exit_code, execution.output = 0, "hello\n"
    execution.save()
    partial = client.get(response.url, headers={"HX-Request": "true", "HX-Target": "progress"})
    assert partial.content.startswith(b'<div id="progress"') or b'<div id="progress"' in partial.content[:200]
    assert b'data-count="ran">1<' in partial.content and b"<html" not in partial.content
    assert f"/scripts/results/{execution.execution_id}/".encode() in partial.content
    cancel_url = f"/scripts/batches/{batch.batch_execution_id}/cancel/"
    assert b"Cancel the batch run of hello.sh?" in client.get(cancel_url).content
    assert client.post(cancel_url, {"confirm": "1"}).status_code == 302
    done = client.get(response.url)
    assert b'data-count="canceled">1<' in done.content and b"every 2s" not in done.content


def test_run_on_all_hosts_of_a_label_search(maintainer: User, team: Team, script: Script) -> None:
    for name in ("web-1", "web-2", "db-1"):
        make_host(name, team)
    client = as_user(maintainer)
    response = client.post(f"/scripts/{script.pk}/run/", {"target": "all", "q": "web"})
    assert response.status_code == 302
    assert BatchExecution.objects.get().hosts.count() == 2
    assert client.post(f"/scripts/{script.pk}/run/", {"target": "all", "label_id": "x"}).status_code == 400


def test_batch_and_output_pages_are_team_scoped(
    maintainer: User, outsider: User, observer: User, team: Team, script: Script
) -> None:
    host = make_host("alpha", team)
    batch = service.run_batch(maintainer, script, [host])
    execution = ScriptExecution.objects.get()
    out = as_user(outsider)
    assert out.get(f"/scripts/batches/{batch.batch_execution_id}/").status_code == 404
    assert out.get(f"/scripts/results/{execution.execution_id}/").status_code == 404
    watcher = as_user(observer)
    page = watcher.get(f"/scripts/batches/{batch.batch_execution_id}/")
    assert page.status_code == 200 and b"Cancel batch run" not in page.content
    assert watcher.post(f"/scripts/batches/{batch.batch_execution_id}/cancel/", {"confirm": "1"}).status_code == 403
    result = watcher.get(f"/scripts/results/{execution.execution_id}/")
    assert result.status_code == 200 and b"echo hello" in result.content


def test_host_scripts_tab_and_run_button(
    maintainer: User, observer: User, outsider: User, team: Team, script: Script
) -> None:
    host = make_host("alpha", team)
    Script.objects.create(team=team, name="win.ps1", contents="Write-Host hi")
    client = as_user(maintainer)
    tab = client.get(f"/hosts/{host.pk}/scripts/", headers={"HX-Request": "true"})
    assert b"hello.sh" in tab.content and b"win.ps1" not in tab.content and b">Run<" in tab.content
    assert b"never" in tab.content
    response = client.post(f"/hosts/{host.pk}/scripts/{script.pk}/run/")
    assert response.status_code == 302 and response.url.endswith("#scripts")
    execution = ScriptExecution.objects.get()
    tab = client.get(f"/hosts/{host.pk}/scripts/", headers={"HX-Request": "true"})
    assert f"/scripts/results/{execution.execution_id}/".encode() in tab.content and b"pending" in tab.content
    # Asking again while it is queued: Fleet's message, no second run, no 500.
    client.post(f"/hosts/{host.pk}/scripts/{script.pk}/run/")
    assert ScriptExecution.objects.count() == 1
    assert c.ALREADY_QUEUED.encode() in client.get(f"/hosts/{host.pk}/").content
    assert client.post(f"/hosts/{host.pk}/scripts/999999/run/").status_code == 302
    observing = as_user(observer)
    assert b">Run<" not in observing.get(f"/hosts/{host.pk}/scripts/", headers={"HX-Request": "true"}).content
    assert observing.post(f"/hosts/{host.pk}/scripts/{script.pk}/run/").status_code == 403
    assert as_user(outsider).get(f"/hosts/{host.pk}/scripts/").status_code == 404
    # Opened on its own (no htmx) it is a page with a way back.
    assert b"Back to alpha" in client.get(f"/hosts/{host.pk}/scripts/").content
    assert b'hx-get="/hosts/%d/scripts/"' % host.pk in client.get(f"/hosts/{host.pk}/").content


def test_pages_cost_a_bounded_number_of_queries(
    maintainer: User, team: Team, script: Script, django_assert_max_num_queries: Any
) -> None:
    hosts = [make_host(f"h{i}", team) for i in range(30)]
    for i in range(20):
        Script.objects.create(team=team, name=f"s{i}.sh", contents="echo hi")
    batch = service.run_batch(maintainer, script, hosts)
    client = as_user(maintainer)
    client.get("/")  # session and first-request caches
    for path in (
        f"/scripts/?team_id={team.pk}",
        f"/scripts/batches/{batch.batch_execution_id}/",
        f"/scripts/{script.pk}/run/",
        f"/hosts/{hosts[0].pk}/scripts/",
    ):
        with django_assert_max_num_queries(15):
            assert client.get(path).status_code == 200
