"""Browser tests: Playwright drives Debian's Chromium against a real server process.

They cover what people do first: log in, filter hosts, open a host, create a team, invite a
user, make a mistake in the agent options, move hosts in bulk. Screenshots of the main pages go
to test-artifacts/ (and, with FLEETSITE_SCREENSHOTS=1, the hosts page to docs/screenshots/ for the README).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from fleetsite.liveserver import BASE_DIR, LiveServer
from fleetsite.tests.browser import PASSWORD, needs_chromium, new_server, serving, shot

pytestmark = [pytest.mark.browser, needs_chromium]

SETUP = f"""
from accounts.models import Team, User
User.objects.create_superuser("admin@example.com", "{PASSWORD}", name="Ada Admin")
Team.objects.create(name="Workstations")
Team.objects.create(name="Servers")
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving(new_server(tmp_path_factory, "browser"), SETUP, ("seed_hosts", "150", "--quiet")) as live:
        yield live


def test_log_in_and_see_the_dashboard(page: Any) -> None:
    assert page.locator("h1").first.inner_text() == "Dashboard"
    assert page.locator(".stat .n").first.inner_text() == "150"
    shot(page, "dashboard")


def test_filter_hosts_and_open_one(page: Any) -> None:
    page.goto("/hosts/")
    assert page.locator("#results tbody tr").count() == 50
    # The total arrives in its own request once the page has loaded (Fleet's /hosts/count).
    page.wait_for_function("() => document.querySelector('.pagination .count').textContent.includes('of 150,')")
    shot(page, "hosts")
    if os.environ.get("FLEETSITE_SCREENSHOTS"):  # the README's picture, rewritten only when asked
        page.screenshot(path=str(BASE_DIR / "docs" / "screenshots" / "hosts.png"))
    page.select_option("select[name=platform]", "windows")
    page.wait_for_url("**platform=windows**")
    page.wait_for_function("() => [...document.querySelectorAll('#results tbody tr')].length < 50")
    assert "Windows" in page.locator("#results tbody tr").first.inner_text()
    page.fill("input[name=query]", "zzz-no-such-host")
    page.wait_for_selector("text=No hosts match these filters.")
    page.goto("/hosts/?order_key=hostname&order_direction=asc")
    first = page.locator("#results tbody tr td:nth-child(2) a").first
    name = first.inner_text()
    first.click()
    page.wait_for_selector("h2:text('Vitals')")
    assert name in page.locator("h1").inner_text()
    shot(page, "host")


def test_create_a_team(page: Any) -> None:
    page.goto("/teams/new/")
    page.fill("input[name=name]", "")
    page.click("main form.form button[type=submit]")
    assert page.locator(".field-error").count() >= 1 or page.locator("input[name=name]:invalid").count() == 1
    page.fill("input[name=name]", "Laptops")
    page.fill("textarea[name=description]", "Everyone's laptops")
    page.click("main form.form button[type=submit]")
    page.wait_for_selector("h1:text('Laptops')")
    page.click("#secrets button:text('Add secret')")
    page.wait_for_selector("#secrets .secret")
    shot(page, "team")
    page.goto("/teams/")
    shot(page, "teams")


def test_invite_a_user(page: Any) -> None:
    page.goto("/users/invite/")
    page.fill("input[name=email]", "new.person@example.com")
    page.click("main form.form button[type=submit]")
    assert "give the user a global role" in page.locator(".error, .field-error").first.inner_text()
    page.select_option("select[name=global_role]", "observer")
    page.click("main form.form button[type=submit]")
    page.wait_for_selector("text=Invite sent to new.person@example.com")
    assert page.locator("text=new.person@example.com").count() >= 1
    shot(page, "users")


def test_agent_options_error_is_shown_and_nothing_is_saved(page: Any) -> None:
    page.goto("/settings/agent-options/")
    original = page.input_value("textarea[name=agent_options]")
    page.fill("textarea[name=agent_options]", "config:\n  options:\n    distributed_interval: ten\n")
    page.click("main form.form button[type=submit]")
    error = page.locator(".field-error").inner_text()
    assert "config.options.distributed_interval: expected integer, got string" in error
    shot(page, "agent-options-error")
    page.goto("/settings/agent-options/")
    assert page.input_value("textarea[name=agent_options]") == original


def test_bulk_transfer(page: Any) -> None:
    page.goto("/hosts/?order_key=id")
    boxes = page.locator("#results input[name=ids]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.select_option("select[name=team]", label="Servers")
    page.click("button[value=transfer]")
    page.click("button:text('Move hosts')")  # the confirmation step names the team and the count
    page.wait_for_selector("text=Moved 2 hosts to Servers.")
    page.goto("/activity/")
    assert page.locator("text=moved 2 hosts to Servers").count() == 1
    shot(page, "activity")


def test_other_pages_render(page: Any) -> None:
    for path, name in [
        ("/software/", "software"), ("/settings/", "settings"), ("/settings/secrets/", "secrets"),
        ("/hosts/add/", "add-hosts"), ("/account/", "account"), ("/api/reference/", "api-reference"),
    ]:  # fmt: skip
        response = page.goto(path)
        assert response.status == 200, path
        shot(page, name)
