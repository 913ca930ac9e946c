"""Browser tests of the UI's shell (issue 17, items 3-7): navigation per role, stable list addresses,
confirmation steps, errors shown where the user acted, an observer's view, activity lines, manual labels.

Playwright drives Debian's Chromium against a real server process, as in test_browser.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from fleetsite.liveserver import LiveServer
from fleetsite.tests.browser import PASSWORD, needs_chromium, new_server, open_page, serving

pytestmark = [pytest.mark.browser, needs_chromium]

SETUP = f"""
from accounts.models import Team, TeamMembership, User
from activities.record import record
from enrollment import secrets
from hosts.models import Host
from queries.models import Policy
admin = User.objects.create_superuser("admin@example.com", "{PASSWORD}", name="Admin")
User.objects.create_user("observer@example.com", "{PASSWORD}", name="Olive Observer", global_role="observer")
User.objects.create_user("plus@example.com", "{PASSWORD}", name="Pat Plus", global_role="observer_plus")
servers = Team.objects.create(name="Servers")
secrets.add(None)
Policy.objects.create(name="Disk encrypted", query="SELECT 1;", resolution="Turn on FileVault.")
Host.objects.create(osquery_host_id="dup-a", hostname="dup-host", hardware_serial="SER-A", uuid="UUID-A")
Host.objects.create(osquery_host_id="dup-b", hostname="dup-host", hardware_serial="SER-B", uuid="UUID-B", team=servers)
record(admin, "live_query", {{"query_id": None, "query_name": None, "targets_count": 7,
                              "query_sql": "SELECT pid, name FROM processes;"}})
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving(new_server(tmp_path_factory, "browser-shell"), SETUP, ("seed_hosts", "60", "--quiet")) as live:
        yield live


def log_in(browser: Any, server: LiveServer, email: str) -> AbstractContextManager[Any]:
    """`email`'s page, logged in, 1280 px wide; the `with` closes it."""
    return open_page(browser, server.url, email, viewport={"width": 1280, "height": 900})


@pytest.fixture
def admin_page(browser: Any, server: LiveServer) -> Iterator[Any]:
    with log_in(browser, server, "admin@example.com") as page:
        yield page


@pytest.fixture
def observer_page(browser: Any, server: LiveServer) -> Iterator[Any]:
    with log_in(browser, server, "observer@example.com") as page:
        yield page


def nav_entries(page: Any) -> list[str]:
    return [text.strip() for text in page.locator("nav.mainnav a").all_inner_texts()]


def test_admin_navigation_lists_every_area_and_admin_once(admin_page: Any) -> None:
    entries = nav_entries(admin_page)
    assert "Live queries" in entries and "fleetd installers" in entries
    assert admin_page.locator("header.topbar").get_by_text("Admin", exact=True).count() == 1
    admin_page.click("nav.mainnav a:text-is('fleetd installers')")
    admin_page.wait_for_selector("h1:text('Build a fleetd installer')")
    assert admin_page.locator("nav.mainnav a[aria-current=page]").inner_text() == "fleetd installers"


def test_observer_navigation_opens_only_pages_that_work(observer_page: Any) -> None:
    entries = nav_entries(observer_page)
    assert "Live queries" not in entries and "fleetd installers" not in entries
    for href in observer_page.locator("nav.mainnav a").evaluate_all("links => links.map(a => a.getAttribute('href'))"):
        assert observer_page.goto(href).status == 200, href


def test_observer_plus_may_run_live_queries(browser: Any, server: LiveServer) -> None:
    with log_in(browser, server, "plus@example.com") as page:
        assert "Live queries" in nav_entries(page) and "fleetd installers" not in nav_entries(page)
        assert page.locator("header.topbar").get_by_text("Pat Plus").count() == 1


def test_list_address_names_exactly_the_current_filters(admin_page: Any) -> None:
    admin_page.goto("/hosts/")
    for status in ("online", "offline", "new"):
        admin_page.select_option("select[name=status]", status)
        admin_page.wait_for_url(f"**status={status}**")
    admin_page.select_option("select[name=platform]", "linux")
    admin_page.wait_for_url("**platform=linux**")
    assert parse_qs(urlsplit(admin_page.url).query) == {"status": ["new"], "platform": ["linux"]}
    admin_page.select_option("select[name=status]", "")
    admin_page.wait_for_function("() => !location.search.includes('status')")
    assert parse_qs(urlsplit(admin_page.url).query) == {"platform": ["linux"]}
    # A sort chosen from a column header survives the next filter change.
    admin_page.click("#results th a:text-is('Host')")
    admin_page.wait_for_url("**order_key=display_name**")
    admin_page.select_option("select[name=platform]", "windows")
    admin_page.wait_for_url("**platform=windows**")
    assert parse_qs(urlsplit(admin_page.url).query) == {
        "platform": ["windows"], "order_key": ["display_name"], "order_direction": ["asc"],
    }  # fmt: skip


def test_dashboard_links_arrive_with_their_filter_visible(admin_page: Any) -> None:
    admin_page.click(".stats a:has-text('Offline')")
    admin_page.wait_for_url("**/hosts/?status=offline")
    assert admin_page.input_value("select[name=status]") == "offline"
    admin_page.goto("/")
    admin_page.click(".stats a:has-text('Low disk')")
    admin_page.wait_for_url("**low_disk_space=**")
    wanted = parse_qs(urlsplit(admin_page.url).query)["low_disk_space"][0]
    assert admin_page.input_value("input[name=low_disk_space]") == wanted


def test_bulk_transfer_and_secret_deletion_ask_first(admin_page: Any) -> None:
    admin_page.goto("/hosts/?order_key=id")
    boxes = admin_page.locator("#results input[name=ids]")
    for index in range(3):
        boxes.nth(index).check()
    admin_page.select_option("select[name=team]", label="Servers")
    admin_page.click("button[value=transfer]")
    admin_page.wait_for_selector("h1:text('Move 3 hosts to Servers?')")
    admin_page.click("a:text('Cancel')")
    admin_page.wait_for_selector("#results")
    assert admin_page.locator("text=Moved").count() == 0

    admin_page.goto("/settings/secrets/")
    assert admin_page.locator(".secret").count() == 1
    admin_page.click("button:text('Delete')")
    admin_page.wait_for_selector("h1:text('Delete 1 enroll secret of no team (global)?')")
    assert "can no longer enroll" in admin_page.locator("main").inner_text()
    admin_page.click("button:text('Delete secret')")
    admin_page.wait_for_selector("text=Secret deleted")
    assert admin_page.locator(".secret").count() == 0
    admin_page.click("button:text('Add secret')")  # leave one for the installer test
    admin_page.wait_for_selector(".secret")


def test_installer_builder_shows_why_a_build_did_not_start(admin_page: Any) -> None:
    admin_page.goto("/packages/")
    admin_page.click("main form button[type=submit]")
    alert = admin_page.locator("#build-result [role=alert]")
    alert.wait_for()
    assert "no TUF repository" in alert.inner_text()


def test_observer_sees_no_write_controls(observer_page: Any) -> None:
    assert observer_page.locator("a:text('Add hosts')").count() == 0
    observer_page.goto("/hosts/")
    assert observer_page.locator("#bulk, input[name=ids], button[value=transfer]").count() == 0
    observer_page.goto("/policies/")
    assert observer_page.locator("a:text('Add policy')").count() == 0
    response = observer_page.goto(observer_page.locator("#results a:text('Disk encrypted')").get_attribute("href"))
    assert response.status == 200
    assert "Turn on FileVault." in observer_page.input_value("textarea[name=resolution]")
    assert observer_page.locator("main button[type=submit]").count() == 0
    assert observer_page.locator("textarea[name=resolution]").is_disabled()


def test_failed_requests_become_readable_messages(observer_page: Any) -> None:
    observer_page.goto("/hosts/")
    observer_page.evaluate(
        "() => htmx.ajax('GET', '/api/latest/fleet/hosts/999999999', {source: '#results', target: '#results'})"
    )
    alert = observer_page.locator("[data-request-error]")
    alert.wait_for()
    text = alert.inner_text()
    assert text and "{" not in text and "errors" not in text


def test_roles_have_human_names(admin_page: Any) -> None:
    admin_page.goto("/users/")
    main = admin_page.locator("main").inner_text()
    assert "Observer+" in main and "observer_plus" not in main


def test_activity_lines_name_and_link_objects_and_show_live_query_sql(admin_page: Any) -> None:
    admin_page.goto("/labels/new/")
    admin_page.fill("input[name=name]", "Pilot group")
    admin_page.select_option("select[name=label_membership_type]", "manual")
    admin_page.fill("textarea[name=hosts]", "SER-A")
    admin_page.click("main form button[type=submit]")
    admin_page.wait_for_selector("text=Saved label Pilot group.")
    admin_page.goto("/activity/")
    link = admin_page.locator("#results a:text('Pilot group')")
    assert re.fullmatch(r"/labels/\d+/", link.get_attribute("href"))
    row = admin_page.locator("#results tr:has-text('ran a live query on 7 hosts')")
    assert "SELECT pid, name FROM processes;" in row.locator("code.sql").inner_text()
    link.click()
    admin_page.wait_for_selector("h1:text('Label: Pilot group')")


def test_manual_label_refuses_an_ambiguous_hostname_by_name(admin_page: Any) -> None:
    admin_page.goto("/labels/new/")
    admin_page.fill("input[name=name]", "Duplicates")
    admin_page.select_option("select[name=label_membership_type]", "manual")
    admin_page.fill("textarea[name=hosts]", "dup-host")
    admin_page.click("main form button[type=submit]")
    error = admin_page.locator(".field-error, .error").filter(has_text="dup-host").first
    error.wait_for()
    text = error.inner_text()
    assert "matches 2 hosts" in text and "SER-A" in text and "SER-B" in text and "Servers" in text
    admin_page.fill("textarea[name=hosts]", "SER-A\nUUID-B")
    admin_page.click("main form button[type=submit]")
    admin_page.wait_for_selector("text=Saved label Duplicates.")
