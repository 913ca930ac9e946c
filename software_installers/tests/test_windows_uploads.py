"""msi and exe uploads over REST: titles, versions and uninstall scripts from the packages' own metadata."""

from __future__ import annotations

import pytest

from software_installers import constants as c
from software_installers import service
from software_installers.models import SoftwareInstaller
from software_installers.tests.conftest import BASE, make_deb, upload
from software_installers.tests.windows_packages import make_exe, make_msi

pytestmark = pytest.mark.django_db

PRODUCT_CODE = "{12345678-1234-1234-1234-123456789ABC}"
UPGRADE_CODE = "{ABCDEF01-2345-6789-ABCD-EF0123456789}"


def post(api, team, filename, raw, **fields):
    return upload(api, f"{BASE}/software/package", filename, raw, team_id=team.pk, **fields)


def test_msi_title_version_and_uninstall_by_upgrade_code(api, team):
    response = post(api, team, "example-4.5.6.msi", make_msi())
    assert response.status_code == 200, response.content
    package = response.json()["software_package"]
    assert (package["name"], package["version"], package["platform"]) == ("example-4.5.6.msi", "4.5.6", "windows")
    assert "msiexec" in package["install_script"]
    assert package["uninstall_script"] == c.UNINSTALL_MSI_BY_UPGRADE_CODE
    installer = SoftwareInstaller.objects.get()
    assert (installer.title.name, installer.title.source) == ("Example Tool", "programs")
    assert (installer.package_ids, installer.upgrade_code) == (PRODUCT_CODE, UPGRADE_CODE)
    # What fleetd runs: the upgrade code filled in.
    assert f'RelatedProducts("{UPGRADE_CODE}")' in service.uninstall_contents(installer)


def test_msi_without_upgrade_code_uninstalls_by_product_code(api, team):
    assert post(api, team, "plain.msi", make_msi(name="Plain", upgrade_code="")).status_code == 200
    installer = SoftwareInstaller.objects.get()
    assert installer.uninstall_script == c.DEFAULT_UNINSTALL["msi"] and installer.upgrade_code == ""
    assert f'$product_code = "{PRODUCT_CODE}"' in service.uninstall_contents(installer)


def test_replacing_an_msi_switches_the_default_uninstall_with_the_upgrade_code(api, team):
    title_id = post(api, team, "example.msi", make_msi()).json()["software_package"]["title_id"]
    path = f"{BASE}/software/titles/{title_id}/package"
    replaced = upload(api, path, "v5.msi", make_msi(version="5.0.0", upgrade_code=""), method="patch", team_id=team.pk)
    assert replaced.status_code == 200, replaced.content
    assert replaced.json()["software_package"]["version"] == "5.0.0"
    assert replaced.json()["software_package"]["uninstall_script"] == c.DEFAULT_UNINSTALL["msi"]
    # A custom script that asks for the upgrade code the new package lacks is refused.
    custom = upload(api, path, None, None, method="patch", team_id=team.pk, uninstall_script="x $UPGRADE_CODE")
    assert custom.status_code == 400
    assert custom.json()["errors"][0]["reason"] == f"Couldn't edit software: {c.NO_UPGRADE_CODE}"


def test_exe_title_comes_from_product_name_else_the_file_name(api, team, other_team):
    scripts = {"install_script": "start /wait $INSTALLER_PATH /S", "uninstall_script": "uninstall.exe /S"}
    package = post(api, team, "setup.exe", make_exe(), **scripts).json()["software_package"]
    assert package["version"] == "2.3.4"
    assert SoftwareInstaller.objects.get(team=team).title.name == "Example Setup"
    assert post(api, other_team, "tool-setup.exe", make_exe({"FileDescription": "x"}), **scripts).status_code == 200
    assert SoftwareInstaller.objects.get(team=other_team).title.name == "tool-setup.exe"


def test_a_package_naming_no_id_is_400(api, team):
    response = post(api, team, "nameless.deb", make_deb("", "1.0"))
    assert response.status_code == 400
    assert response.json()["errors"][0]["reason"] == "Couldn't add. Unable to extract necessary metadata."
    assert not SoftwareInstaller.objects.exists()


def test_identifiers_with_shell_metacharacters_never_reach_a_script(api, team):
    response = post(api, team, "evil.deb", make_deb("evil$(reboot)", "1.0"))
    assert response.status_code == 400
    reason = response.json()["errors"][0]["reason"]
    assert reason == 'Couldn\'t add software: package identifier "evil$(reboot)" contains invalid characters'
    # A script that does not use the id is fine with it.
    assert post(api, team, "evil.deb", make_deb("evil$(reboot)", "1.0"), uninstall_script="echo no").status_code == 200
    no_code = post(api, team, "hello.deb", make_deb(), uninstall_script="remove ${UPGRADE_CODE}")
    assert no_code.json()["errors"][0]["reason"] == f"Couldn't add software: {c.NO_UPGRADE_CODE}"
