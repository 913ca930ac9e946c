"""The live query page with real agents (issue 17, item 1): the first page of rows streams in, the
rest are counted, and the whole result is a paged server-side table and a CSV.

agentsim hosts answer `processes` with 60-200 rows each, so a handful of hosts answer more rows
than one page; the page must never hold more than a page of rows while the answers arrive.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from agentsim import run as run_agents
from fleetsite.liveserver import LiveServer
from fleetsite.tests.browser import ADMIN, PASSWORD, needs_chromium, new_server, serving
from queries.livecheck import call, login
from queries.results import PAGE_SIZE

pytestmark = [pytest.mark.browser, needs_chromium]

HOSTS = 4
SETUP = f"""
from accounts.models import User
User.objects.create_superuser("{ADMIN}", "{PASSWORD}", name="Admin")
"""


class Agents:
    """agentsim hosts in a thread of their own, stopped when the test module ends."""

    def __init__(self, url: str, secret: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, args=(url, secret), daemon=True)

    def _run(self, url: str, secret: str) -> None:
        async def agents() -> None:
            self.stop_event = asyncio.Event()
            await run_agents(url, secret, HOSTS, platform="linux", duration=600, ramp=1, stop_event=self.stop_event)

        self.loop.run_until_complete(agents())

    def stop(self) -> None:
        if self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving(new_server(tmp_path_factory, "browser-live"), SETUP) as live:
        secret = live.manage("enroll_secret", "add").strip()
        agents = Agents(live.url, secret)
        agents.thread.start()
        try:
            token = login(live.url, ADMIN, PASSWORD)
            deadline = time.monotonic() + 60
            while call(live.url, "GET", "/api/latest/fleet/hosts/count", token=token)[1].get("count") != HOSTS:
                assert time.monotonic() < deadline, "the simulated hosts did not enroll"
                time.sleep(0.5)
            yield live
        finally:
            agents.stop()


def test_a_page_of_rows_streams_in_and_the_whole_result_is_a_paged_table(page: Any, server: LiveServer) -> None:
    page.goto("/queries/live/")
    page.fill("textarea[name=query]", "SELECT * FROM processes;")
    page.locator("label.option", has_text="All Hosts").locator("input[name=labels]").check()
    with page.expect_response(lambda response: "/queries/live/start/" in response.url) as started:
        page.click("#run")
    campaign_id = started.value.json()["campaign"]["id"]
    page.wait_for_function(
        "() => document.getElementById('progress-text').textContent.includes('finished')", timeout=60_000
    )
    rows = page.locator("#result-table tbody tr")
    assert rows.count() == PAGE_SIZE
    note = page.locator("#row-count").inner_text()
    assert note.startswith(f"Showing the first {PAGE_SIZE} of "), note
    total = int(note.split(" of ")[1].split()[0].replace(",", ""))
    assert total > PAGE_SIZE
    assert page.locator("#export").get_attribute("href") == f"/queries/live/{campaign_id}/results.csv"

    page.click("#all-results")
    page.wait_for_url(f"{server.url}/queries/live/{campaign_id}/")
    assert page.locator("#result-table tbody tr").count() == PAGE_SIZE
    assert f"{total} rows" in page.locator("#progress-text").inner_text()
    page.click("#next-page")
    page.wait_for_function("() => document.querySelector('#result-table tbody tr') !== null")
    assert page.locator("#result-table tbody tr").count() == min(PAGE_SIZE, total - PAGE_SIZE)
    csv = page.request.get(f"/queries/live/{campaign_id}/results.csv")
    assert csv.ok and len(csv.text().strip().splitlines()) == total + 1  # a header, then every row
