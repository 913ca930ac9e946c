"""Browser test: the software installer upload form (Debian's Chromium, real server).

The labels only show once the target is narrowed to them (CSS, no script), the pre-install
condition is checked as it is typed (htmx), a refusal shows on its field, and an msi's own
metadata names the uploaded package.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetsite.liveserver import LiveServer
from fleetsite.tests.browser import PASSWORD, needs_chromium, new_server, serving, shot
from fleetsite.tests.test_browser_a11y import severe_violations
from software_installers.tests.windows_packages import make_exe, make_msi

pytestmark = [pytest.mark.browser, needs_chromium]

SETUP = f"""
from accounts.models import Team, User
from hosts.models import Label
User.objects.create_superuser("admin@example.com", "{PASSWORD}", name="Ada Admin")
team = Team.objects.create(name="Workstations")
Label.objects.create(name="Windows 11", query="SELECT 1;")
Label.objects.create(name="Lab machines", query="SELECT 1;", team=team)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving(new_server(tmp_path_factory, "browser-installers"), SETUP) as live:
        yield live


def test_upload_an_msi_with_labels_and_a_pre_install_condition(page: Any, tmp_path: Path) -> None:
    page.goto("/software/installers/")
    page.select_option("select[name=team_id]", label="Workstations")
    page.wait_for_url("**team_id=**")
    page.click("#upload summary")
    labels = page.locator(".field-labels")
    assert not labels.is_visible()  # "All hosts" is the default: no labels to tick
    page.check("input[name=target][value=include_any]")
    assert labels.is_visible()
    offered = labels.locator("input[name=labels]").evaluate_all("boxes => boxes.map(box => box.value)")
    assert {"Lab machines", "Windows 11", "All Hosts"} <= set(offered)  # the team's, global ones and built-in ones
    page.check("input[name=labels][value='Windows 11']")
    # The condition is checked as it is typed.
    page.fill("textarea[name=pre_install_query]", "DELETE FROM programs;")
    page.wait_for_selector(".field-pre_install_query .field-error")
    page.fill("textarea[name=pre_install_query]", "SELECT 1 FROM programs WHERE name = 'Example Tool';")
    page.wait_for_selector(".field-pre_install_query :text('valid read-only SQL')")
    # An exe without scripts is refused on the install script's field; what was entered stays.
    exe = tmp_path / "setup.exe"
    exe.write_bytes(make_exe())
    page.set_input_files("input[name=software]", str(exe))
    page.click("#upload button[type=submit]")
    error = page.locator(".field-install_script .field-error")
    assert "Install script is required for .exe packages." in error.inner_text()
    assert page.locator("input[name=target][value=include_any]").is_checked()
    assert page.locator("input[name=labels][value='Windows 11']").is_checked()
    assert "Example Tool" in page.locator("textarea[name=pre_install_query]").input_value()
    assert not severe_violations(page)  # axe-core, with the whole form open and an error shown
    # The msi names itself: title and version come from its Property table.
    msi = tmp_path / "example-4.5.6.msi"
    msi.write_bytes(make_msi())
    page.set_input_files("input[name=software]", str(msi))
    page.check("input[name=labels][value='Lab machines']")
    page.fill("textarea[name=post_install_script]", "Write-Output installed")
    page.check("input[name=self_service]")
    shot(page, "software-installer-upload")
    page.click("#upload button[type=submit]")
    page.wait_for_selector("text=Example Tool was added.")
    row = page.locator("#results tbody tr").filter(has_text="Example Tool")
    assert "example-4.5.6.msi" in row.inner_text() and "4.5.6" in row.inner_text()
