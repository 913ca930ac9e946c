"""A live query to a simulated fleet: delivery time and server CPU per ingested result row."""

from __future__ import annotations

import asyncio
import subprocess
import time
from urllib.parse import urlsplit

from agentsim import run as run_agents
from agentsim.stats import Summary
from bench.checkins import LOGGED_QUERY, process_cpu_seconds
from fleetsite.liveserver import LiveServer
from queries.livecheck import call, login, watch

EMAIL, PASSWORD = "bench@example.com", "bench password that is long 123"


def prepare_admin(server: LiveServer) -> str:
    """A global admin for the bench; returns a login token."""
    server.manage(
        "shell", "-c",
        "from accounts.models import User; "
        f"User.objects.filter(email='{EMAIL}').exists() or User.objects.create_superuser('{EMAIL}', '{PASSWORD}')",
    )  # fmt: skip
    return login(server.url, EMAIL, PASSWORD)


def prepare_logged_query(server: LiveServer, token: str) -> None:
    """A global scheduled query, so agents log results that reach its report and the log destination."""
    body = {
        "name": LOGGED_QUERY,
        "query": "SELECT pid, name, path FROM processes;",
        "interval": 300,
        "logging": "snapshot",
    }
    status, answer = call(server.url, "POST", "/api/latest/fleet/queries", body, token)
    if status != 200:
        raise RuntimeError(f"creating the scheduled query failed: {status} {answer}")


def _pid_of(pattern: str) -> int:
    found = subprocess.run(["pgrep", "-o", "-f", pattern], capture_output=True, text=True, check=False).stdout.split()
    return int(found[0]) if found else 0


def _cpu(pid: int) -> float:
    return process_cpu_seconds(pid) if pid else 0.0


async def _live_query(server: LiveServer, pid: int, token: str, label_id: int, total: int, sql: str) -> None:
    """Start `sql` on every soak host, watch it to the end, print delivery time and CPU per row."""
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
    cpu_ms = (process_cpu_seconds(pid) - cpu1) * 1000
    rows = sum(len(result["rows"]) for result in seen.results.values())
    answered = max(len(seen.results), 1)
    delivery = seen.seconds_to_last_result
    print(f"live query `{sql}` to {total} hosts (distributed_interval 10 s): {len(seen.results)} answered, {rows} rows")
    print(f"  start -> last result at the websocket: {delivery:.1f} s (target <= 12 s)" if delivery else "  no results")
    print(f"  server CPU while it ran, per result row (idle check-ins included): {cpu_ms / max(rows, 1):.3f} ms "
          f"({cpu_ms / answered:.2f} ms per host answer of {rows / answered:.0f} rows)")  # fmt: skip


async def soak_with_live_query(
    server: LiveServer, pid: int, secret: str, hosts: int, seconds: float, token: str, redis_url: str
) -> None:
    """agentsim paced at fleetd's defaults: server, database and Redis CPU in the steady state, then live queries."""
    stop = asyncio.Event()
    agents = _start_agents(server, secret, hosts, seconds, stop)
    await measure_soak(pid, hosts, seconds, redis_url, f"agentsim soak: {hosts} hosts")

    status, body = await asyncio.to_thread(call, server.url, "GET", "/api/latest/fleet/hosts/count", None, token)
    total = body.get("count", 0)
    _, labels = await asyncio.to_thread(call, server.url, "GET", "/api/latest/fleet/labels", None, token)
    all_hosts = next(label["id"] for label in labels["labels"] if label["name"] == "All Hosts")
    # A one-row query shows delivery time; `processes` (60-200 rows a host) the cost per row.
    for sql in ("SELECT * FROM osquery_info;", "SELECT * FROM processes;"):
        await _live_query(server, pid, token, all_hosts, total, sql)
    stop.set()
    _print_agents(await agents, hosts)


async def soak_only(
    server: LiveServer, pid: int, secret: str, hosts: int, seconds: float, redis_url: str, title: str
) -> float:
    """The soak alone (no live queries); returns the server's share of one core."""
    stop = asyncio.Event()
    agents = _start_agents(server, secret, hosts, seconds, stop)
    share = await measure_soak(pid, hosts, seconds, redis_url, title)
    stop.set()
    _print_agents(await agents, hosts)
    return share


def _start_agents(server: LiveServer, secret: str, hosts: int, seconds: float, stop: asyncio.Event) -> asyncio.Task:
    # They run until told to stop (`stop`); `duration` is only a bound.
    return asyncio.create_task(
        run_agents(
            server.url, secret, hosts, platform="mixed", duration=seconds + 180, seed=5, ramp=10, stop_event=stop
        )
    )


async def measure_soak(pid: int, hosts: int, seconds: float, redis_url: str, title: str) -> float:
    """Server, database and Redis CPU over the soak's steady middle window, printed; returns the server's share."""
    # Enrollment, the first detail queries and the first scheduled results are behind us by then.
    await asyncio.sleep(max(45.0, seconds * 0.35))
    window = max(30.0, seconds * 0.3)
    db_pid, redis_pid = _pid_of("mariadbd|mysqld"), _pid_of(f"redis-server .*:{urlsplit(redis_url).port or 6379}")
    before = (process_cpu_seconds(pid), _cpu(db_pid), _cpu(redis_pid), time.monotonic())
    await asyncio.sleep(window)
    after = (process_cpu_seconds(pid), _cpu(db_pid), _cpu(redis_pid), time.monotonic())
    elapsed = after[3] - before[3]
    server_share, db_share, redis_share = ((after[i] - before[i]) / elapsed for i in range(3))
    print(f"\n{title}, osquery + orbit at default intervals, steady window {window:.0f} s")
    print(f"  server: {server_share * 100:5.1f}% of one core -> {hosts * 0.6 / max(server_share, 1e-6):,.0f} "
          "hosts per core at 60% load   (target >= 6,000)")  # fmt: skip
    print(f"  database (mariadbd, whole process): {db_share * 100:5.1f}% of one core; "
          f"Redis: {redis_share * 100:4.1f}%")  # fmt: skip
    total_share = server_share + db_share + redis_share
    print(f"  server + database + Redis: {hosts * 0.6 / max(total_share, 1e-6):,.0f} hosts per core at 60% load")
    return server_share


def _print_agents(summary: Summary, hosts: int) -> None:
    errors = sum(summary.errors.values())
    rate = summary.total_requests / max(summary.duration_s, 1e-6) / hosts
    print(f"  agentsim: {summary.total_requests} requests ({rate * 60:.1f} per host per minute), {errors} errors")
    if errors:
        print("  error samples:", summary.error_samples[:3])
