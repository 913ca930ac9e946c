"""Browser tests of issue 17, items 8 and 9: the pages at 390 px wide never scroll sideways, the skip
link is the first stop of the keyboard, and the end user's My Device page works with its token.

Playwright drives Debian's Chromium against a real server process, as in test_browser.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fleetsite.liveserver import LiveServer
from fleetsite.tests.browser import PASSWORD, log_in, needs_chromium, new_server, open_page, serving

pytestmark = [pytest.mark.browser, needs_chromium]

TOKEN = "9f0e1d2c-3b4a-4c5d-8e7f-a1b2c3d4e5f6"
LONG = "an-unusually-long-host-name-that-has-no-spaces-at-all-" * 3
PHONE = {"width": 390, "height": 844}

SETUP = f"""
from django.utils import timezone
from accounts.models import User
from fleetsite.lib.tokens import digest
from hosts.models import Host, HostSoftware, Software
from queries.models import Policy, PolicyMembership
User.objects.create_superuser("admin@example.com", "{PASSWORD}", name="Admin")
host = Host.objects.create(osquery_host_id="mine", hostname="{LONG}", os_version="macOS 14.5", platform="darwin",
    hardware_model="MacBookPro18,3", hardware_serial="C02LONGSERIAL", gigs_disk_space_available=40,
    percent_disk_space_available=16, gigs_total_disk_space=250, refetch_requested=False,
    device_token_digest=digest("{TOKEN}"), device_token_updated_at=timezone.now())
for i in range(30):
    software = Software.objects.create(name=f"package-with-a-long-name-{{i}}-" * 3, version="1.2.3-ubuntu4.5",
                                       source="deb_packages", checksum=f"s{{i}}")
    HostSoftware.objects.create(host=host, software=software)
policy = Policy.objects.create(name="Disk encrypted", query="SELECT 1;", resolution="Turn on FileVault.")
PolicyMembership.objects.create(policy=policy, host=host, passes=False)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving(new_server(tmp_path_factory, "browser-layout"), SETUP, ("seed_hosts", "40", "--quiet")) as live:
        yield live


@pytest.fixture
def phone(browser: Any, server: LiveServer) -> Iterator[Any]:
    with open_page(browser, server.url, viewport=PHONE) as page:
        yield page


def assert_no_sideways_scroll(page: Any) -> None:
    widths = page.evaluate(
        "() => ({page: document.documentElement.scrollWidth, body: document.body.scrollWidth,"
        " view: document.documentElement.clientWidth})"
    )
    assert widths["page"] <= widths["view"] and widths["body"] <= widths["view"], (page.url, widths)


def test_host_list_and_host_detail_fit_390px(phone: Any, server: LiveServer) -> None:
    log_in(phone, server.url)
    phone.goto("/hosts/")
    phone.wait_for_selector("#results table")
    assert_no_sideways_scroll(phone)
    # The long name is cut, with the whole of it in the tooltip.
    name = phone.locator(f'a.cell-name[title="{LONG}"]')
    assert name.count() == 1 and name.evaluate("a => a.scrollWidth > a.clientWidth")
    name.click()
    phone.wait_for_selector("#policies")
    assert_no_sideways_scroll(phone)


def test_the_device_page_fits_390px_and_refetches(phone: Any) -> None:
    response = phone.goto(f"/device/{TOKEN}")
    assert response.status == 200
    assert_no_sideways_scroll(phone)
    assert "Turn on FileVault." in phone.locator("#policies").inner_text()
    assert phone.locator("nav.mainnav a[href='/hosts/']").count() == 0
    with phone.expect_navigation():
        phone.click("button:has-text('Refetch')")
    assert phone.url.endswith(f"/device/{TOKEN}?done=refetch"), (phone.url, phone.locator("body").inner_text()[:1500])
    assert "Refetch requested" in phone.locator("main").inner_text()
    assert_no_sideways_scroll(phone)


def test_a_wrong_token_gets_the_plain_page(phone: Any) -> None:
    response = phone.goto("/device/not-a-token")
    assert response.status == 401
    assert "expired" in phone.locator("main").inner_text() and LONG not in phone.content()


def test_the_skip_link_is_the_first_tab_stop_and_moves_focus_to_main(phone: Any, server: LiveServer) -> None:
    log_in(phone, server.url)
    for path in ("/hosts/", f"/device/{TOKEN}"):
        phone.goto(path)
        phone.keyboard.press("Tab")
        focused = phone.evaluate("() => [document.activeElement.className, document.activeElement.textContent]")
        assert focused == ["skiplink", "Skip to main content"], path
        box = phone.locator("a.skiplink").bounding_box()
        assert box and box["y"] >= 0  # shown while focused
        phone.keyboard.press("Enter")
        assert phone.evaluate("() => document.activeElement.id") == "main", path
