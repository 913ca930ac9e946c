"""A live query to a simulated fleet: delivery time and server CPU per ingested result row."""

from __future__ import annotations

import asyncio
import time

from agentsim import run as run_agents
from bench.checkins import process_cpu_seconds
from fleetsite.liveserver import LiveServer
from queries.livecheck import call, login, watch

EMAIL, PASSWORD = "bench@example.com", "bench password that is long 123"


def prepare_admin(server: LiveServer) -> None:
    server.manage(
        "shell", "-c",
        "from accounts.models import User; "
        f"User.objects.filter(email='{EMAIL}').exists() or User.objects.create_superuser('{EMAIL}', '{PASSWORD}')",
    )  # fmt: skip


async def _live_query(
    server: LiveServer, pid: int, token: str, label_id: int, total: int, sql: str, idle_fraction: float
) -> None:
    """Start `sql` on every host, watch it to the end, print delivery time and CPU per row."""
    cpu1, t1 = process_cpu_seconds(pid), time.monotonic()
    status, started_body = await asyncio.to_thread(
        call,
        server.url,
        "POST",
        "/api/latest/fleet/queries/run",
        {"query": sql, "selected": {"labels": [label_id]}},
        token,
    )
    if status != 200:
        raise RuntimeError(f"starting the live query failed: {status} {started_body}")
    campaign_id = started_body["campaign"]["id"]
    ws_url = server.url.replace("http", "ws", 1) + "/api/latest/fleet/results/websocket"
    seen = await watch(ws_url, token, campaign_id, expected=total, timeout=40, started=t1)
    elapsed = time.monotonic() - t1
    cpu_ms = (process_cpu_seconds(pid) - cpu1) * 1000 - idle_fraction * elapsed * 1000
    rows = sum(len(result["rows"]) for result in seen.results.values())
    answered = max(len(seen.results), 1)
    delivery = seen.seconds_to_last_result
    print(f"live query `{sql}` to {total} hosts (distributed_interval 10 s): {len(seen.results)} answered, {rows} rows")
    print(f"  start -> last result at the websocket: {delivery:.1f} s (target <= 12 s)" if delivery else "  no results")
    print(f"  server CPU per result row ingested and streamed: {cpu_ms / max(rows, 1):.3f} ms "
          f"({cpu_ms / answered:.2f} ms per host answer of {rows / answered:.0f} rows)")  # fmt: skip


async def soak_with_live_query(server: LiveServer, pid: int, secret: str, hosts: int, seconds: float) -> None:
    """agentsim at default intervals; measure idle CPU, then a live query's delivery and cost."""
    stop = asyncio.Event()
    agents = asyncio.create_task(
        run_agents(server.url, secret, hosts, platform="mixed", duration=seconds, seed=5, ramp=10, stop_event=stop)
    )
    await asyncio.sleep(min(60.0, seconds / 2))  # enrollment and first detail queries are done by now
    window = 15.0
    cpu0, t0 = process_cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(window)
    idle_fraction = (process_cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
    print(f"\nagentsim soak: {hosts} hosts at default intervals")
    print(f"  steady-state server CPU: {idle_fraction * 100:.1f}% of one core "
          f"-> {hosts * 0.6 / max(idle_fraction, 1e-6):,.0f} hosts per core at 60% load")  # fmt: skip

    token = await asyncio.to_thread(login, server.url, EMAIL, PASSWORD)
    status, body = await asyncio.to_thread(call, server.url, "GET", "/api/latest/fleet/hosts/count", None, token)
    total = body.get("count", 0)
    _, labels = await asyncio.to_thread(call, server.url, "GET", "/api/latest/fleet/labels", None, token)
    all_hosts = next(label["id"] for label in labels["labels"] if label["name"] == "All Hosts")
    # A one-row query shows delivery time; `processes` (60-200 rows a host) the cost per row.
    for sql in ("SELECT * FROM osquery_info;", "SELECT * FROM processes;"):
        await _live_query(server, pid, token, all_hosts, total, sql, idle_fraction)
    stop.set()
    summary = await agents
    errors = sum(summary.errors.values())
    print(f"  agentsim: {sum(summary.requests.values())} requests, {errors} errors")
    if errors:
        print("  error samples:", summary.error_samples[:3])
