"""Software installer pages and the host page's activity blocks through Django's test client."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import Team, User
from activities.models import Activity
from activities.record import record
from hosts.models import Host, Label
from scripts.models import Script, ScriptExecution
from software_installers import constants as c
from software_installers.choices import InstallStatus
from software_installers.models import SoftwareInstall, SoftwareInstaller
from software_installers.tests.conftest import make_deb
from software_installers.tests.windows_packages import make_exe, make_msi

pytestmark = pytest.mark.django_db


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_host(name: str, team: Team | None) -> Host:
    return Host.objects.create(osquery_host_id=name, hostname=name, team=team, platform="ubuntu")


def add_deb(client: Client, team: Team, **fields: Any) -> Any:
    data = {"software": SimpleUploadedFile("hello_2.10-3_amd64.deb", make_deb()), **fields}
    return client.post(f"/software/installers/?team_id={team.pk}", data)


def run(host: Host, installer: SoftwareInstaller, status: str, **fields: Any) -> SoftwareInstall:
    return SoftwareInstall.objects.create(
        install_uuid=str(uuid.uuid4()),
        host=host,
        installer=installer,
        title_id=installer.title_id,
        software_title=installer.name,
        software_package=installer.filename,
        status=status,
        **fields,
    )


@pytest.fixture
def installer(maintainer: User, team: Team) -> SoftwareInstaller:
    assert add_deb(as_user(maintainer), team).status_code == 302
    return SoftwareInstaller.objects.get()


def test_upload_form_adds_an_installer(installer: SoftwareInstaller, maintainer: User, team: Team) -> None:
    assert installer.team == team and installer.version == "2.10-3" and installer.platform == "linux"
    page = as_user(maintainer).get(f"/software/installers/?team_id={team.pk}")
    assert b"hello" in page.content and b"Upload an installer" in page.content
    assert Activity.objects.filter(type="added_software").exists()


def test_bad_uploads_are_shown_on_the_form(maintainer: User, team: Team, settings: Any) -> None:
    client = as_user(maintainer)
    bad = client.post(f"/software/installers/?team_id={team.pk}", {"software": SimpleUploadedFile("x.zip", b"PK")})
    assert bad.status_code == 400 and b"field-error" in bad.content
    junk = client.post(f"/software/installers/?team_id={team.pk}", {"software": SimpleUploadedFile("x.deb", b"no")})
    assert junk.status_code == 400 and b"Couldn&#x27;t add." in junk.content
    assert client.post(f"/software/installers/?team_id={team.pk}", {}).status_code == 400
    settings.FLEETSITE_SOFTWARE_INSTALLER_MAX_BYTES = 10
    assert add_deb(client, team).status_code == 400
    assert not SoftwareInstaller.objects.exists()


def field_block(html: str, name: str) -> str:
    """The form's block for one field (generic/_form.html: `<div class="field field-NAME ...">`)."""
    return html.split(f'class="field field-{name}', 1)[1].split('<div class="field ', 1)[0]


@pytest.fixture
def labels(team: Team, other_team: Team) -> dict[str, Label]:
    return {
        "global": Label.objects.create(name="Windows 11", query="SELECT 1;"),
        "team": Label.objects.create(name="Lab machines", query="SELECT 1;", team=team),
        "other": Label.objects.create(name="Other team's", query="SELECT 1;", team=other_team),
    }


def test_upload_form_offers_what_the_api_takes(maintainer: User, team: Team, labels: dict[str, Label]) -> None:
    html = as_user(maintainer).get(f"/software/installers/?team_id={team.pk}").content.decode()
    for name in ("software", "target", "labels", "pre_install_query", "install_script", "post_install_script",
                 "uninstall_script", "self_service"):  # fmt: skip
        assert f'name="{name}"' in html, name
    targets = field_block(html, "target")
    assert 'value="include_any"' in targets and 'value="exclude_any"' in targets
    assert 'value="all"' in targets and "checked" in targets.split('value="all"', 1)[1].split(">", 1)[0]
    offered = field_block(html, "labels")
    assert 'value="Windows 11"' in offered and 'value="Lab machines"' in offered and "Other team" not in offered
    # The pre-install condition is checked as it is typed, sending only itself.
    query = field_block(html, "pre_install_query")
    assert 'hx-post="/queries/check-sql/"' in query and 'hx-params="pre_install_query"' in query


def test_upload_form_sends_labels_condition_scripts_and_self_service(
    maintainer: User, team: Team, labels: dict[str, Label]
) -> None:
    response = as_user(maintainer).post(
        f"/software/installers/?team_id={team.pk}",
        {
            "software": SimpleUploadedFile("example.msi", make_msi()),
            "target": "exclude_any",
            "labels": ["Windows 11", "Lab machines"],
            "pre_install_query": "SELECT 1 FROM programs WHERE name = 'Example Tool';",
            "install_script": "",
            "post_install_script": "Write-Output done",
            "uninstall_script": "",
            "self_service": "on",
        },
    )
    assert response.status_code == 302, response.content
    installer = SoftwareInstaller.objects.get()
    assert installer.title.name == "Example Tool" and installer.version == "4.5.6"
    assert installer.pre_install_query == "SELECT 1 FROM programs WHERE name = 'Example Tool';"
    assert installer.post_install_script == "Write-Output done" and installer.self_service
    assert set(installer.labels_exclude_any.values_list("name", flat=True)) == {"Windows 11", "Lab machines"}
    assert not installer.labels_include_any.exists()
    # Empty scripts are Fleet's defaults for the type (an msi with an upgrade code uninstalls by it).
    assert "msiexec" in installer.install_script
    assert installer.uninstall_script == c.UNINSTALL_MSI_BY_UPGRADE_CODE


def test_upload_form_errors_are_shown_on_their_field(maintainer: User, team: Team, labels: dict[str, Label]) -> None:
    client = as_user(maintainer)
    path = f"/software/installers/?team_id={team.pk}"
    no_labels = client.post(path, {"software": SimpleUploadedFile("hello.deb", make_deb()), "target": "include_any",
                                   "pre_install_query": "SELECT 42;"})  # fmt: skip
    html = no_labels.content.decode()
    assert no_labels.status_code == 400 and '<details class="card" open id="upload">' in html  # the form stays open
    assert "Tick at least one label" in field_block(html, "labels")
    assert 'class="field field-labels has-error"' in html
    assert "SELECT 42;" in field_block(html, "pre_install_query")  # what was typed stays
    # A label of another team is not offered, and forging it is refused on the field.
    forged = client.post(path, {"software": SimpleUploadedFile("hello.deb", make_deb()), "target": "include_any",
                                "labels": ["Other team's"]})  # fmt: skip
    assert forged.status_code == 400 and "Select a valid choice" in field_block(forged.content.decode(), "labels")
    # The service's refusals land where the user fixes them: an exe needs scripts.
    exe = client.post(path, {"software": SimpleUploadedFile("setup.exe", make_exe()), "target": "all"})
    assert exe.status_code == 400
    assert "Install script is required for .exe packages" in field_block(exe.content.decode(), "install_script")
    garbage = client.post(path, {"software": SimpleUploadedFile("setup.msi", b"garbage" * 20), "target": "all"})
    assert "invalid msi package" in field_block(garbage.content.decode(), "software")
    assert not SoftwareInstaller.objects.exists()


def test_the_sql_check_reads_the_pre_install_condition(maintainer: User) -> None:
    client = as_user(maintainer)
    ok = client.post(
        "/queries/check-sql/", {"pre_install_query": "SELECT 1 FROM programs;"}, headers={"HX-Request": "true"}
    )
    assert b"valid read-only SQL" in ok.content
    bad = client.post(
        "/queries/check-sql/", {"pre_install_query": "DELETE FROM programs;"}, headers={"HX-Request": "true"}
    )
    assert b"field-error" in bad.content


def test_status_counts_and_the_installers_hosts(installer: SoftwareInstaller, maintainer: User, team: Team) -> None:
    one, two, three = (make_host(n, team) for n in ("one", "two", "three"))
    run(one, installer, InstallStatus.FAILED_INSTALL)
    latest = run(one, installer, InstallStatus.INSTALLED, install_script_output="done", install_script_exit_code=0)
    run(two, installer, InstallStatus.PENDING_INSTALL)
    run(three, installer, InstallStatus.FAILED_INSTALL, install_script_output="boom", install_script_exit_code=1)
    client = as_user(maintainer)
    page = client.get(f"/software/installers/?team_id={team.pk}").content.decode()
    assert '?status=installed">1<' in page and '?status=pending">1<' in page and '?status=failed">1<' in page
    detail = client.get(f"/software/installers/{installer.pk}/")
    assert b"one" in detail.content and b"three" in detail.content
    assert f"/software/installs/{latest.install_uuid}/".encode() in detail.content
    failed = client.get(f"/software/installers/{installer.pk}/?status=failed").content
    assert b"three" in failed and b">one<" not in failed
    output = client.get(f"/software/installs/{latest.install_uuid}/")
    assert b"done" in output.content


def test_installer_pages_are_team_scoped(
    installer: SoftwareInstaller, observer: User, outsider: User, team: Team
) -> None:
    host = make_host("one", team)
    done = run(host, installer, InstallStatus.INSTALLED)
    out = as_user(outsider)
    assert out.get(f"/software/installers/?team_id={team.pk}").status_code == 404
    assert out.get(f"/software/installers/{installer.pk}/").status_code == 404
    assert out.get(f"/software/installs/{done.install_uuid}/").status_code == 404
    watcher = as_user(observer)
    page = watcher.get(f"/software/installers/?team_id={team.pk}")
    assert page.status_code == 200 and b"Upload an installer" not in page.content
    assert add_deb(watcher, team).status_code == 403
    assert watcher.get(f"/software/installers/{installer.pk}/").status_code == 200


def test_host_upcoming_and_past_activities(
    installer: SoftwareInstaller, maintainer: User, observer: User, outsider: User, team: Team
) -> None:
    host = make_host("one", team)
    script = Script.objects.create(team=team, name="a.sh", contents="echo a")
    queued = ScriptExecution.objects.create(execution_id=str(uuid.uuid4()), host=host, script=script, contents="echo a")
    pending = run(host, installer, InstallStatus.PENDING_INSTALL)
    ScriptExecution.objects.create(
        execution_id=str(uuid.uuid4()), host=host, script=script, contents="echo a", exit_code=3, output="oops"
    )
    run(host, installer, InstallStatus.INSTALLED, install_script_output="all good", install_script_exit_code=0)
    client = as_user(maintainer)
    htmx = {"HX-Request": "true"}
    upcoming = client.get(f"/hosts/{host.pk}/activities/?list=upcoming", headers=htmx).content
    assert b"Run a.sh" in upcoming and b"Install hello" in upcoming and upcoming.count(b">Cancel<") == 2
    past = client.get(f"/hosts/{host.pk}/activities/?list=past", headers=htmx).content
    assert b"oops" in past and b"all good" in past and b">3<" in past
    # Cancel asks first, then drops the queued script (and the install) from the queue.
    cancel = f"/hosts/{host.pk}/activities/upcoming/{queued.execution_id}/cancel/"
    assert b"Cancel this upcoming activity" in client.post(cancel).content
    assert client.post(cancel, {"confirm": "1"}).status_code == 302
    queued.refresh_from_db()
    assert queued.canceled
    client.post(f"/hosts/{host.pk}/activities/upcoming/{pending.install_uuid}/cancel/", {"confirm": "1"})
    pending.refresh_from_db()
    assert pending.canceled
    # Gone already, or never there: a message, not a 500.
    assert client.post(cancel, {"confirm": "1"}).status_code == 302
    watcher = as_user(observer)
    assert b">Cancel<" not in watcher.get(f"/hosts/{host.pk}/activities/", headers=htmx).content
    assert watcher.post(cancel, {"confirm": "1"}).status_code == 403
    assert as_user(outsider).get(f"/hosts/{host.pk}/activities/?list=past").status_code == 404


def test_past_activities_are_paged_in_the_database(
    installer: SoftwareInstaller, maintainer: User, team: Team, django_assert_max_num_queries: Any
) -> None:
    host = make_host("one", team)
    for i in range(25):
        ScriptExecution.objects.create(
            execution_id=str(uuid.uuid4()), host=host, contents="echo", exit_code=0, output=f"run-{i}"
        )
        run(host, installer, InstallStatus.INSTALLED)
    client = as_user(maintainer)
    client.get("/")
    with django_assert_max_num_queries(12):
        page = client.get(f"/hosts/{host.pk}/activities/?list=past&page=1", headers={"HX-Request": "true"})
    assert page.content.count(b"<tr>") == 11  # header + 10 rows
    assert b"list=past&amp;page=2" in page.content or b"list=past&page=2" in page.content
    with django_assert_max_num_queries(12):
        assert client.get(f"/software/installers/?team_id={team.pk}").status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get(f"/software/installers/{installer.pk}/").status_code == 200


def test_feed_links_runs_and_installs_to_their_output(
    maintainer: User, team: Team, installer: SoftwareInstaller
) -> None:
    from activities.feed import describe_html

    host = make_host("one", team)
    ran = record(
        maintainer,
        "ran_script",
        {"host_id": host.pk, "host_display_name": "one", "script_name": "a.sh", "script_execution_id": "abc-1"},
        host=host,
        team=team,
    )
    installed = record(
        None,
        "installed_software",
        {"host_id": host.pk, "host_display_name": "one", "software_title": "hello", "install_uuid": "u-1",
         "status": "failed"},
        host=host,
        team=team,
    )  # fmt: skip
    batch = record(
        maintainer, "ran_script_batch", {"script_name": "a.sh", "batch_execution_id": "b-1", "host_count": 2}
    )
    assert '<a href="/scripts/results/abc-1/">a.sh</a>' in describe_html(ran)
    assert '<a href="/software/installs/u-1/">hello</a>' in describe_html(installed)
    assert describe_html(installed).startswith("failed to install")
    assert '<a href="/scripts/batches/b-1/">a.sh</a> on 2 hosts' in describe_html(batch)
    hostile = record(maintainer, "ran_script", {"script_name": "x", "script_execution_id": '"><script>'})
    assert "<script>" not in describe_html(hostile) and "href" not in describe_html(hostile)


def test_a_maintainer_cannot_upload_to_another_team(maintainer: User, other_team: Team) -> None:
    client = as_user(maintainer)
    assert client.get(f"/software/installers/?team_id={other_team.pk}").status_code == 404
    assert add_deb(client, other_team).status_code == 404
    assert not SoftwareInstaller.objects.exists()
