"""Packages over REST: edit, replace, delete, one-time links, names, icons, gitops batch, access."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from activities.models import Activity
from software_installers import batch
from software_installers.models import SoftwareInstall, SoftwareInstaller
from software_installers.tests.conftest import BASE, make_deb, make_rpm, upload
from software_installers.tests.windows_packages import make_exe

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def add(api, team, filename="hello.deb", raw=None, **fields):
    response = upload(
        api, f"{BASE}/software/package", filename, raw if raw is not None else make_deb(), team_id=team.pk, **fields
    )
    assert response.status_code == 200, response.content
    return response.json()["software_package"]


def test_rpm_upload_and_no_team(api):
    response = upload(api, f"{BASE}/software/package", "htop.rpm", make_rpm())
    assert response.status_code == 200, response.content
    package = response.json()["software_package"]
    assert (package["version"], package["team_id"]) == ("3.3.0", None)
    assert "dnf install" in package["install_script"]


def test_second_upload_of_a_title_is_409(api, team):
    add(api, team)
    response = upload(api, f"{BASE}/software/package", "hello.deb", make_deb(), team_id=team.pk)
    assert response.status_code == 409
    assert "already has a package" in response.json()["errors"][0]["reason"]


@pytest.mark.parametrize(
    ("name", "raw", "reason"),
    [
        ("notes.txt", b"x", "File type not supported"),
        ("broken.deb", b"garbage" * 20, "invalid deb package"),
        ("setup.exe", make_exe(), "Install script is required"),
        ("setup.exe", b"MZ", "Couldn't add. invalid exe package"),
        ("setup.msi", b"garbage" * 20, "Couldn't add. invalid msi package"),
    ],
)
def test_bad_packages_are_400(api, team, name, raw, reason):
    response = upload(api, f"{BASE}/software/package", name, raw, team_id=team.pk)
    assert response.status_code == 400, response.content
    assert reason in response.json()["errors"][0]["reason"]


def test_missing_file_is_400(api, team):
    response = upload(api, f"{BASE}/software/package", "", None, team_id=team.pk)
    assert response.status_code == 400


def test_exe_with_scripts_and_a_name_override(api, team):
    package = add(
        api, team, "Setup-1.2.exe", make_exe(), install_script="run.exe", uninstall_script="un.exe", name="Tool"
    )
    assert package["platform"] == "windows"
    assert SoftwareInstaller.objects.get().title.name == "Tool"


def test_patch_changes_only_given_fields_and_replaces_the_file(api, team):
    title_id = add(api, team, pre_install_query="SELECT 1;")["title_id"]
    path = f"{BASE}/software/titles/{title_id}/package"
    response = upload(
        api, path, None, None, method="patch", team_id=team.pk, install_script="echo new", self_service="true"
    )
    assert response.status_code == 200, response.content
    package = response.json()["software_package"]
    assert package["install_script"] == "echo new"
    assert package["pre_install_query"] == "SELECT 1;"
    assert package["self_service"] is True
    newer = make_deb(version="2.11-1")
    response = upload(api, path, "hello_2.11.deb", newer, method="patch", team_id=team.pk)
    assert response.json()["software_package"]["version"] == "2.11-1"
    assert SoftwareInstaller.objects.get().filename == "hello_2.11.deb"
    wrong = upload(api, path, "x.rpm", make_rpm(), method="patch", team_id=team.pk)
    assert wrong.status_code == 400
    assert Activity.objects.filter(type="edited_software").count() == 2


def test_delete_stops_offering_and_cancels_pending_installs(api, team, orbit_host):
    title_id = add(api, team)["title_id"]
    api.post(f"{BASE}/hosts/{orbit_host.host.pk}/software/{title_id}/install")
    response = api.delete(f"{BASE}/software/titles/{title_id}/available_for_install?team_id={team.pk}")
    assert response.status_code == 204
    assert not SoftwareInstaller.objects.exists()
    assert SoftwareInstall.objects.get().canceled is True
    again = api.delete(f"{BASE}/software/titles/{title_id}/available_for_install?team_id={team.pk}")
    assert again.status_code == 404


def test_download_needs_alt_media(api, team):
    title_id = add(api, team)["title_id"]
    response = api.get(f"{BASE}/software/titles/{title_id}/package", {"team_id": team.pk})
    assert response.status_code == 400
    assert response.json()["errors"][0]["reason"] == "only alt=media is supported"


def test_one_time_download_link(api, api_client_as, team):
    title_id = add(api, team)["title_id"]
    token = api.post(f"{BASE}/software/titles/{title_id}/package/token?alt=media&team_id={team.pk}").json()["token"]
    anonymous = api_client_as(None)
    first = anonymous.get(f"{BASE}/software/titles/{title_id}/package/token/{token}")
    assert first.status_code == 200
    assert b"".join(first.streaming_content) == make_deb()
    assert anonymous.get(f"{BASE}/software/titles/{title_id}/package/token/{token}").status_code == 403
    assert anonymous.get(f"{BASE}/software/titles/{title_id}/package/token/made-up").status_code == 403


def test_rename_and_icons(api, team):
    title_id = add(api, team)["title_id"]
    assert (
        api.patch(f"{BASE}/software/titles/{title_id}/name?team_id={team.pk}", {"name": "Hello World"}).status_code
        == 200
    )
    assert SoftwareInstaller.objects.get().name == "Hello World"
    assert api.patch(f"{BASE}/software/titles/{title_id}/name?team_id={team.pk}", {"name": " "}).status_code == 422
    icon_path = f"{BASE}/software/titles/{title_id}/icon"
    assert api.get(icon_path, {"team_id": team.pk}).status_code == 204
    response = upload(api, icon_path, None, None, method="put", team_id=team.pk, icon=SimpleUploadedFile("i.png", PNG))
    assert response.status_code == 200, response.content
    got = api.get(icon_path, {"team_id": team.pk})
    assert got.status_code == 200 and got.content == PNG
    not_png = upload(
        api, icon_path, None, None, method="put", team_id=team.pk, icon=SimpleUploadedFile("i.png", b"GIF8")
    )
    assert not_png.status_code == 400
    assert api.delete(f"{icon_path}?team_id={team.pk}").status_code == 204
    assert api.get(icon_path, {"team_id": team.pk}).status_code == 204


def test_observer_reads_but_cannot_change(api, api_client_as, observer, team, orbit_host):
    title_id = add(api, team)["title_id"]
    client = api_client_as(observer)
    assert (
        client.post(f"{BASE}/software/titles/{title_id}/package/token?alt=media&team_id={team.pk}").status_code == 200
    )
    assert (
        client.delete(f"{BASE}/software/titles/{title_id}/available_for_install?team_id={team.pk}").status_code == 403
    )
    assert client.post(f"{BASE}/hosts/{orbit_host.host.pk}/software/{title_id}/install").status_code == 403
    assert upload(client, f"{BASE}/software/package", "x.deb", make_deb(), team_id=team.pk).status_code == 403


def test_outsider_gets_404_and_anonymous_401(api, api_client_as, outsider, team, orbit_host):
    title_id = add(api, team)["title_id"]
    client = api_client_as(outsider)
    assert (
        client.get(f"{BASE}/software/titles/{title_id}/package", {"alt": "media", "team_id": team.pk}).status_code
        == 404
    )
    assert client.post(f"{BASE}/hosts/{orbit_host.host.pk}/software/{title_id}/install").status_code == 404
    api.post(f"{BASE}/hosts/{orbit_host.host.pk}/software/{title_id}/install")
    install_uuid = SoftwareInstall.objects.get().install_uuid
    assert client.get(f"{BASE}/software/install/{install_uuid}/results").status_code == 404
    anonymous = api_client_as(None)
    assert anonymous.get(f"{BASE}/software/install/{install_uuid}/results").status_code == 401
    assert upload(anonymous, f"{BASE}/software/package", "x.deb", make_deb()).status_code == 401


def test_gitops_batch_sets_the_teams_packages(api, team, monkeypatch):
    served = {"https://example.com/hello.deb": make_deb(), "https://example.com/htop.rpm": make_rpm()}
    monkeypatch.setattr(batch, "fetch", lambda url: (io.BytesIO(served[url]), url.rsplit("/", 1)[-1]))
    old = add(api, team, "old.deb", make_deb("oldpkg", "1"))
    body = {"software": [{"url": url, "self_service": True} for url in served]}
    response = api.post(f"{BASE}/software/batch?team_name={team.name}", body)
    assert response.status_code == 202, response.content
    outcome = api.get(f"{BASE}/software/batch/{response.json()['request_uuid']}", {"team_name": team.name}).json()
    assert outcome["status"] == "completed", outcome
    assert {package["url"] for package in outcome["packages"]} == set(served)
    assert set(SoftwareInstaller.objects.values_list("url", flat=True)) == set(served)
    assert not SoftwareInstaller.objects.filter(title_id=old["title_id"]).exists()
    # Applying the same list again downloads nothing and keeps the packages.
    monkeypatch.setattr(batch, "fetch", lambda url: pytest.fail("downloaded again"))
    again = api.post(f"{BASE}/software/batch?team_name={team.name}", body)
    assert (
        api.get(f"{BASE}/software/batch/{again.json()['request_uuid']}", {"team_name": team.name}).json()["status"]
        == "completed"
    )
    assert SoftwareInstaller.objects.count() == 2


def test_gitops_batch_failures_and_dry_run(api, team, monkeypatch):
    monkeypatch.setattr(batch, "fetch", lambda url: (io.BytesIO(b"garbage" * 10), "broken.deb"))
    response = api.post(f"{BASE}/software/batch?team_name={team.name}", {"software": [{"url": "https://e.com/b.deb"}]})
    outcome = api.get(f"{BASE}/software/batch/{response.json()['request_uuid']}", {"team_name": team.name}).json()
    assert outcome["status"] == "failed" and "invalid deb package" in outcome["message"]
    assert api.post(f"{BASE}/software/batch?dry_run=true", {"software": [{"nourl": 1}]}).status_code == 422
    dry = api.post(f"{BASE}/software/batch?dry_run=true", {"software": [{"url": "https://e.com/b.deb"}]})
    assert dry.status_code == 202
    assert not SoftwareInstaller.objects.exists()


def test_a_package_over_the_size_cap_is_413(api, team, settings):
    settings.FLEETSITE_SOFTWARE_INSTALLER_MAX_BYTES = 100
    response = upload(api, f"{BASE}/software/package", "hello.deb", make_deb(), team_id=team.pk)
    assert response.status_code == 413
    assert not SoftwareInstaller.objects.exists()


def test_gitops_batch_reuses_an_uploaded_package_by_hash(api, team, other_team, monkeypatch):
    monkeypatch.setattr(batch, "fetch", lambda url: pytest.fail("nothing to download"))
    add(api, other_team)
    sha = SoftwareInstaller.objects.get().storage_id
    response = api.post(f"{BASE}/software/batch?fleet_name={team.name}", {"software": [{"hash_sha256": sha}]})
    outcome = api.get(f"{BASE}/software/batch/{response.json()['request_uuid']}", {"fleet_name": team.name}).json()
    assert outcome["status"] == "completed", outcome
    assert outcome["packages"][0]["hash_sha256"] == sha
    assert SoftwareInstaller.objects.filter(team=team, storage_id=sha).exists()
    unknown = api.post(f"{BASE}/software/batch?fleet_name={team.name}", {"software": [{"hash_sha256": "ab" * 32}]})
    failed = api.get(f"{BASE}/software/batch/{unknown.json()['request_uuid']}", {"fleet_name": team.name}).json()
    assert failed["status"] == "failed" and "hash_sha256" in failed["message"]


def test_title_detail_shows_the_teams_package_before_any_host_has_it(api, team):
    title_id = add(api, team)["title_id"]
    body = api.get(f"{BASE}/software/titles/{title_id}", {"team_id": team.pk}).json()["software_title"]
    assert body["name"] == "hello" and body["hosts_count"] == 0
    assert body["software_package"]["name"] == "hello.deb"
    assert body["software_package"]["title_id"] == title_id
    assert api.get(f"{BASE}/software/titles/{title_id}").status_code == 404


def test_replacing_the_file_removes_the_old_bytes(api, team, settings, django_capture_on_commit_callbacks):
    title_id = add(api, team)["title_id"]
    store = settings.FLEETSITE_SOFTWARE_INSTALLERS_DIR
    old = SoftwareInstaller.objects.get().storage_id
    assert (store / old).exists()
    with django_capture_on_commit_callbacks(execute=True):
        upload(
            api,
            f"{BASE}/software/titles/{title_id}/package",
            "h2.deb",
            make_deb(version="9"),
            method="patch",
            team_id=team.pk,
        )
    assert not (store / old).exists()
    assert (store / SoftwareInstaller.objects.get().storage_id).exists()


def test_policies_installing_the_package_are_listed(api, team):
    title_id = add(api, team)["title_id"]
    policy = api.post(f"{BASE}/teams/{team.pk}/policies", {"name": "p", "query": "SELECT 1;"}).json()["policy"]
    api.patch(f"{BASE}/teams/{team.pk}/policies/{policy['id']}", {"software_title_id": title_id})
    detail = api.get(f"{BASE}/software/titles/{title_id}", {"team_id": team.pk}).json()["software_title"]
    assert detail["software_package"]["automatic_install_policies"] == [{"id": policy["id"], "name": "p"}]
