"""In-process end-to-end runs against a tiny fake Fleet server on 127.0.0.1 (lives only in this file)."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from aiohttp import web

from agentsim import run
from agentsim.__main__ import main
from agentsim.host import (
    DISTRIBUTED_READ,
    DISTRIBUTED_WRITE,
    ORBIT_CONFIG,
    ORBIT_DEVICE_TOKEN,
    ORBIT_ENROLL,
    ORBIT_PING,
    OSQUERY_CONFIG,
    OSQUERY_ENROLL,
    OSQUERY_LOG,
)

SECRET = "s3cret"
DETAIL_NAMES = (
    "os_version",
    "osquery_info",
    "system_info",
    "uptime",
    "users",
    "osquery_flags",
    "orbit_info",
    "network_interface_unix",
    "network_interface_windows",
    "os_version_windows",
    "disk_space_unix",
    "disk_space_darwin",
    "disk_space_windows",
    "software_linux",
    "software_macos",
    "software_windows",
)
CONFIG = {
    "options": {"distributed_interval": 1, "logger_tls_period": 1, "pack_delimiter": "/"},
    "decorators": {"load": ["SELECT uuid AS host_uuid FROM system_info;"]},
    "packs": {
        "Global": {"queries": {"uptime": {"query": "SELECT * FROM uptime", "interval": 1, "snapshot": True}}},
        "team-3": {"queries": {"users": {"query": "SELECT * FROM users", "interval": 1, "removed": False}}},
    },
}


class FakeFleet:
    """Records every request per host; optionally rejects keys once to exercise re-enrollment."""

    def __init__(self, reject_first_read: bool = False, reject_first_orbit_config: bool = False) -> None:
        self.reject_first_read = reject_first_read
        self.reject_first_orbit_config = reject_first_orbit_config
        self.orbit_keys: dict[str, str] = {}
        self.node_keys: dict[str, str] = {}
        self.events: defaultdict[str, list[str]] = defaultdict(list)  # host uuid -> ordered event names
        self.reads: defaultdict[str, int] = defaultdict(int)
        self.sent: dict[str, dict[str, str]] = {}  # host uuid -> queries sent in the first read
        self.writes: defaultdict[str, list[dict]] = defaultdict(list)
        self.logs: defaultdict[str, list[dict]] = defaultdict(list)
        self.problems: list[str] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post(ORBIT_ENROLL, self.orbit_enroll)
        app.router.add_post(ORBIT_CONFIG, self.orbit_config)
        app.router.add_post(ORBIT_DEVICE_TOKEN, self.device_token)
        app.router.add_route("HEAD", ORBIT_PING, self.ping)
        app.router.add_post(OSQUERY_ENROLL, self.enroll)
        app.router.add_post(OSQUERY_CONFIG, self.config)
        app.router.add_post(DISTRIBUTED_READ, self.read)
        app.router.add_post(DISTRIBUTED_WRITE, self.write)
        app.router.add_post(OSQUERY_LOG, self.log)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    @staticmethod
    async def body(request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return json.loads(raw)

    def _orbit_host(self, body: dict) -> str | None:
        return self.orbit_keys.get(body.get("orbit_node_key", ""))

    def _node_host(self, body: dict) -> str | None:
        return self.node_keys.get(body.get("node_key", ""))

    @staticmethod
    def invalid() -> web.Response:
        return web.json_response({"error": "invalid node key", "node_invalid": True}, status=401)

    async def orbit_enroll(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        if "orbit_endpoints" not in request.headers.get("X-Fleet-Capabilities", ""):
            self.problems.append("missing capabilities header")
        expected = {
            "enroll_secret",
            "hardware_uuid",
            "hardware_serial",
            "hostname",
            "platform",
            "osquery_identifier",
            "computer_name",
            "hardware_model",
        }
        if set(body) != expected or body["enroll_secret"] != SECRET:
            self.problems.append(f"bad orbit enroll {body}")
            return web.json_response({"error": "bad"}, status=401)
        key = f"orbit-{uuid.uuid4()}"
        self.orbit_keys[key] = body["hardware_uuid"]
        self.events[body["hardware_uuid"]].append("orbit_enroll")
        return web.json_response({"orbit_node_key": key})

    async def orbit_config(self, request: web.Request) -> web.Response:
        host = self._orbit_host(await self.body(request))
        if host is None:
            return web.json_response({"error": "invalid"}, status=401)
        self.events[host].append("orbit_config")
        if self.reject_first_orbit_config and self.events[host].count("orbit_config") == 1:
            return web.json_response({"error": "invalid"}, status=401)
        return web.json_response({"notifications": {}, "command_line_startup_flags": {}, "extensions": {}})

    async def device_token(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        host = self._orbit_host(body)
        if host is None or not body.get("device_auth_token"):
            return web.json_response({"error": "invalid"}, status=401)
        self.events[host].append("device_token")
        return web.json_response({})

    async def ping(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def enroll(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        details = body.get("host_details", {})
        for section in ("os_version", "osquery_info", "system_info"):
            if not details.get(section) or not all(isinstance(v, str) for v in details[section].values()):
                self.problems.append(f"bad host_details.{section}")
        if body.get("enroll_secret") != SECRET:
            return self.invalid()
        host = body["host_identifier"]
        key = f"node-{uuid.uuid4()}"
        self.node_keys[key] = host
        self.events[host].append("osquery_enroll")
        return web.json_response({"node_key": key})

    async def config(self, request: web.Request) -> web.Response:
        host = self._node_host(await self.body(request))
        if host is None:
            return self.invalid()
        self.events[host].append("osquery_config")
        return web.json_response(CONFIG)

    async def read(self, request: web.Request) -> web.Response:
        host = self._node_host(await self.body(request))
        if host is None:
            return self.invalid()
        self.events[host].append("read")
        self.reads[host] += 1
        if self.reject_first_read and self.reads[host] == 1:
            return self.invalid()
        if host in self.sent:
            return web.json_response({"queries": {}, "discovery": {}})
        queries = {f"fleet_detail_query_{n}": f"SELECT * FROM {n}" for n in DETAIL_NAMES}
        queries["fleet_label_query_1"] = "SELECT 1;"
        queries["fleet_policy_query_2"] = "SELECT 1 FROM os_version WHERE platform = 'darwin';"
        queries["fleet_distributed_query_3"] = "SELECT * FROM fail_simulation;"
        self.sent[host] = queries
        return web.json_response({"queries": queries, "discovery": {}, "accelerate": 1})

    async def write(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        host = self._node_host(body)
        if host is None:
            return self.invalid()
        self.events[host].append("write")
        self.writes[host].append(body)
        return web.json_response({})

    async def log(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        host = self._node_host(body)
        if host is None:
            return self.invalid()
        self.events[host].append(f"log_{body['log_type']}")
        self.logs[host].append(body)
        return web.json_response({})


async def _run_against(fake: FakeFleet, hosts: int, duration: float, **options: Any):
    url = await fake.start()
    try:
        return await run(url, SECRET, hosts, duration=duration, ramp=0.5, seed=42, retry_base=0.2, **options)
    finally:
        await fake.stop()


def test_end_to_end_fleet() -> None:
    fake = FakeFleet()
    summary = asyncio.run(_run_against(fake, 20, 3.0, platform="mixed", gzip=True, orbit_config_interval=1))
    assert summary.ok, summary.format()
    assert not fake.problems
    assert summary.hosts_enrolled == summary.orbit_enrolled == 20
    assert len(fake.events) == 20
    for host, events in fake.events.items():
        assert events[0] == "orbit_enroll"
        assert events.index("orbit_enroll") < events.index("osquery_enroll") < events.index("osquery_config")
        assert events.count("orbit_config") >= 2 and "device_token" in events
        assert events.count("osquery_enroll") == 1
        assert events.count("read") >= 2 and events.count("write") == 1
        assert "log_status" in events and "log_result" in events
        write = fake.writes[host][0]
        assert set(write["queries"]) == set(fake.sent[host])
        for name in DETAIL_NAMES:
            rows = write["queries"][f"fleet_detail_query_{name}"]
            assert rows and all(isinstance(v, str) for r in rows for v in r.values()), name
            assert write["statuses"][f"fleet_detail_query_{name}"] == 0
        assert write["queries"]["fleet_label_query_1"] == [{"1": "1"}]
        assert write["statuses"]["fleet_distributed_query_3"] == 1
        results = [e for body in fake.logs[host] if body["log_type"] == "result" for e in body["data"]]
        assert {e["name"] for e in results} == {"pack/Global/uptime", "pack/team-3/users"}
    assert summary.requests[ORBIT_PING] == 20
    assert summary.requests[DISTRIBUTED_WRITE] == 20
    assert set(summary.latency_ms) >= {OSQUERY_ENROLL, DISTRIBUTED_READ, OSQUERY_LOG}
    assert summary.results["distributed_answers"] == 20 * (len(DETAIL_NAMES) + 3)
    assert summary.results["result_log_entries"] > 0 and summary.results["status_log_entries"] > 0


def test_node_invalid_triggers_reenroll() -> None:
    fake = FakeFleet(reject_first_read=True)
    summary = asyncio.run(_run_against(fake, 5, 3.0))
    assert summary.errors == {DISTRIBUTED_READ: 5}
    assert summary.error_codes[DISTRIBUTED_READ] == {"401": 5}
    assert not summary.ok and summary.error_samples
    assert summary.results["osquery_reenrolls"] == 5
    for events in fake.events.values():
        assert events.count("osquery_enroll") == 2
        second = events.index("osquery_enroll", events.index("read") + 1)
        assert "write" in events[second:]


def test_orbit_401_triggers_orbit_reenroll() -> None:
    fake = FakeFleet(reject_first_orbit_config=True)
    summary = asyncio.run(_run_against(fake, 3, 2.0))
    assert summary.errors == {ORBIT_CONFIG: 3}
    assert summary.results["orbit_reenrolls"] == 3
    assert all(e.count("orbit_enroll") == 2 for e in fake.events.values())
    assert summary.hosts_enrolled == 3


def test_transport_errors_are_counted() -> None:
    summary = asyncio.run(run("http://127.0.0.1:9", SECRET, 2, duration=1.0, ramp=0, retry_base=0.1))
    assert summary.hosts_enrolled == 0 and not summary.ok
    assert summary.error_codes[ORBIT_ENROLL]["transport"] == summary.requests[ORBIT_ENROLL] >= 2


def test_cli_writes_json_report(tmp_path: Path) -> None:
    fake = FakeFleet()
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(fake.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(5)
    report = tmp_path / "report.json"
    try:
        code = main(
            [
                "--url",
                fake.url,
                "--enroll-secret",
                SECRET,
                "--hosts",
                "4",
                "--duration",
                "1.5",
                "--ramp",
                "0.2",
                "--platform",
                "windows",
                "--seed",
                "1",
                "--report-json",
                str(report),
            ]
        )
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    assert code == 0
    data = json.loads(report.read_text())
    assert data["ok"] is True and data["hosts_enrolled"] == 4 and data["total_errors"] == 0
    assert data["requests"][OSQUERY_ENROLL] == 4
    assert set(data["latency_ms"][OSQUERY_ENROLL]) == {"p50", "p95"}
