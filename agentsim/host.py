"""One simulated machine: an orbit loop and an osqueryd loop, each an asyncio task with its own timers."""

from __future__ import annotations

import asyncio
import random
import time
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentsim.answers import build_distributed_write
from agentsim.catalogue import HostData
from agentsim.fleetd_work import run_notifications
from agentsim.identity import HostIdentity
from agentsim.logs import (
    ScheduledQuery,
    periodic_status,
    scheduled_queries,
    startup_status,
)
from agentsim.stats import Counters
from agentsim.transport import Response, SimulationStopped, Transport

ORBIT_HEADERS = {"X-Fleet-Capabilities": "orbit_endpoints,token_rotation", "User-Agent": "fleetd-orbit/1.40.0"}
OSQUERY_HEADERS = {"User-Agent": "osquery/5.12.1"}

ORBIT_ENROLL = "/api/fleet/orbit/enroll"
ORBIT_CONFIG = "/api/fleet/orbit/config"
ORBIT_DEVICE_TOKEN = "/api/fleet/orbit/device_token"
ORBIT_PING = "/api/fleet/orbit/ping"
OSQUERY_ENROLL = "/api/v1/osquery/enroll"
OSQUERY_CONFIG = "/api/v1/osquery/config"
DISTRIBUTED_READ = "/api/v1/osquery/distributed/read"
DISTRIBUTED_WRITE = "/api/v1/osquery/distributed/write"
OSQUERY_LOG = "/api/v1/osquery/log"

MAX_BUFFERED_LOGS = 5000  # like osquery's buffered TLS logger, drop oldest beyond this


@dataclass(frozen=True, slots=True)
class Settings:
    """Run-wide knobs shared by all hosts (intervals in seconds)."""

    enroll_secret: str
    gzip: bool = False
    orbit_config_interval: float = 30.0
    config_refresh: float = 60.0
    status_log_interval: float = 300.0
    token_rotation_interval: float = 3600.0
    retry_base: float = 1.0
    retry_max: float = 60.0
    script_outcome: str = "ok"  # ok, fail or timeout: what scripts without an agentsim: marker "do"


def _positive(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


class Host:
    """State machine of one fleetd install; hosts never share mutable state except stats/counters."""

    def __init__(
        self,
        ident: HostIdentity,
        settings: Settings,
        transport: Transport,
        counters: Counters,
        start_delay: float = 0.0,
    ) -> None:
        self.ident = ident
        self.data = HostData(ident)
        self.settings = settings
        self.transport = transport
        self.counters = counters
        self.start_delay = start_delay
        self.rng = random.Random(ident.seed ^ 0xA11CE)
        self.orbit_node_key: str | None = None
        self.node_key: str | None = None
        self.orbit_enrolled = False  # at least once
        self.osquery_enrolled = False  # at least once
        self.schedule: dict[str, ScheduledQuery] = {}
        self._orbit_ready: asyncio.Event | None = None
        self._status_buffer: list[dict] = []
        self._result_buffer: list[dict] = []
        self._failures = 0

    # -- plumbing ------------------------------------------------------------------------------------
    def start(self) -> list[asyncio.Task]:
        """Create the orbit and osqueryd tasks (must be called inside the running loop)."""
        self._orbit_ready = asyncio.Event()
        return [asyncio.create_task(self._guard(loop)) for loop in (self._orbit_loop, self._osquery_loop)]

    async def _guard(self, loop_fn: Any) -> None:
        """Keep a loop alive across simulator bugs (counted as errors) and end it quietly on stop."""
        while True:
            try:
                await loop_fn()
                return
            except SimulationStopped:
                return
            except Exception:  # noqa: BLE001 - a simulator bug must not kill the host silently
                self.transport.stats.record_internal(f"{self.ident.hostname}: {traceback.format_exc(limit=3)}")
                await asyncio.sleep(5.0)

    @staticmethod
    def _now() -> float:
        return time.monotonic()

    def _jitter(self, seconds: float) -> float:
        return seconds * self.rng.uniform(0.95, 1.05)

    def _backoff(self) -> float:
        """Exponential backoff with jitter after a failed request; reset by any success."""
        self._failures += 1
        delay = min(self.settings.retry_max, self.settings.retry_base * 2 ** (self._failures - 1))
        return delay * self.rng.uniform(0.5, 1.0)

    async def _sleep_until(self, when: float) -> None:
        await asyncio.sleep(max(0.0, when - self._now()))

    async def _orbit(self, path: str, payload: dict | None, method: str = "POST") -> Response:
        res = await self.transport.request(method, path, payload, ORBIT_HEADERS)
        if res.ok:
            self._failures = 0
        elif res.status == 401 and path not in (ORBIT_ENROLL, ORBIT_PING):  # ping is unauthenticated
            self.orbit_node_key = None  # orbit re-enrolls on its next cycle
            self.counters.orbit_reenrolls += 1
        return res

    async def _osquery(self, path: str, payload: dict, compress: bool = False) -> tuple[Response, bool]:
        """POST to an osquery endpoint; the bool says the node key was rejected (re-enroll needed)."""
        res = await self.transport.request("POST", path, payload, OSQUERY_HEADERS, compress)
        invalid = isinstance(res.data, Mapping) and res.data.get("node_invalid") is True
        if res.ok and invalid:
            self.transport.protocol_error(path, "2xx response with node_invalid")
        if path != OSQUERY_ENROLL and (res.status == 401 or invalid):
            self.node_key = None
            self.counters.osquery_reenrolls += 1
            return res, True
        if res.ok:
            self._failures = 0
        return res, False

    # -- orbit ---------------------------------------------------------------------------------------
    async def _orbit_enroll(self) -> bool:
        i = self.ident
        res = await self._orbit(
            ORBIT_ENROLL,
            {
                "enroll_secret": self.settings.enroll_secret,
                "hardware_uuid": i.hardware_uuid,
                "hardware_serial": i.hardware_serial,
                "hostname": i.hostname,
                "platform": i.platform,
                "osquery_identifier": "",
                "computer_name": i.computer_name,
                "hardware_model": i.hardware_model,
            },
        )
        key = res.data.get("orbit_node_key") if res.ok and isinstance(res.data, Mapping) else None
        if res.ok and not (isinstance(key, str) and key):
            self.transport.protocol_error(ORBIT_ENROLL, "response without orbit_node_key")
        if not (isinstance(key, str) and key):
            return False
        self.orbit_node_key = key
        self.orbit_enrolled = True
        self.counters.orbit_enrolls += 1
        return True

    async def _orbit_loop(self) -> None:
        await asyncio.sleep(self.start_delay)
        assert self._orbit_ready is not None
        next_config = next_token = 0.0
        pinged = False
        while True:
            now = self._now()
            if self.orbit_node_key is None:
                if not await self._orbit_enroll():
                    await asyncio.sleep(self._backoff())
                    continue
                next_config = now
            if now >= next_config:
                res = await self._orbit(ORBIT_CONFIG, {"orbit_node_key": self.orbit_node_key})
                data = res.data if isinstance(res.data, Mapping) else {}
                if res.ok and not isinstance(data.get("notifications"), Mapping):
                    self.transport.protocol_error(ORBIT_CONFIG, "response without a notifications object")
                self._orbit_ready.set()  # fleetd starts osqueryd once orbit has enrolled and asked for config
                if self.orbit_node_key is None:
                    await asyncio.sleep(self._backoff())
                    continue
                if res.ok and data.get("notifications"):
                    await self._run_pending_work(data)
                interval = self.settings.orbit_config_interval
                next_config = now + (self._jitter(interval) if res.status else self._backoff())
            if now >= next_token:
                if next_token:  # orbit rotates its device token periodically
                    self.data.device_auth_token = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
                res = await self._orbit(
                    ORBIT_DEVICE_TOKEN,
                    {"orbit_node_key": self.orbit_node_key, "device_auth_token": self.data.device_auth_token},
                )
                if self.orbit_node_key is None:
                    await asyncio.sleep(self._backoff())
                    continue
                next_token = now + (self.settings.token_rotation_interval if res.ok else self._backoff())
            if not pinged:
                await self._orbit(ORBIT_PING, None, method="HEAD")
                pinged = True
            await self._sleep_until(min(next_config, next_token))

    async def _run_pending_work(self, config: Mapping[str, Any]) -> None:
        """Scripts and installs the config announced, answered before the next config poll, as fleetd does."""
        assert self.orbit_node_key is not None
        timeout = config.get("script_execution_timeout")
        scripts, installs = await run_notifications(
            self._orbit,
            self.orbit_node_key,
            config["notifications"],
            self.settings.script_outcome,
            timeout if isinstance(timeout, int) and timeout > 0 else None,
        )
        self.counters.scripts_run += scripts
        self.counters.installs_run += installs

    # -- osqueryd ------------------------------------------------------------------------------------
    async def _osquery_enroll(self) -> bool:
        res, _ = await self._osquery(
            OSQUERY_ENROLL,
            {
                "enroll_secret": self.settings.enroll_secret,
                "host_identifier": self.ident.hardware_uuid,
                "platform_type": self.ident.platform_type,
                "host_details": self.data.host_details(),
            },
        )
        key = res.data.get("node_key") if res.ok and isinstance(res.data, Mapping) else None
        if res.ok and not (isinstance(key, str) and key):
            self.transport.protocol_error(OSQUERY_ENROLL, "response without node_key")
        if not (isinstance(key, str) and key):
            return False
        self.node_key = key
        self.osquery_enrolled = True
        self.counters.osquery_enrolls += 1
        return True

    def apply_config(self, config: Mapping[str, Any], now: float) -> None:
        """Adopt options and the pack schedule, keeping timers of queries that did not change."""
        options = config.get("options")
        options = options if isinstance(options, Mapping) else {}
        self.data.distributed_interval = int(_positive(options.get("distributed_interval"), 10))
        self.data.logger_tls_period = int(_positive(options.get("logger_tls_period"), 10))
        refresh = options.get("config_refresh") or options.get("config_tls_refresh")
        self.data.config_refresh = int(_positive(refresh, self.settings.config_refresh))
        schedule = {}
        for spec in scheduled_queries(config, self.ident.platform):
            old = self.schedule.get(spec.name)
            if old is not None and old.spec == spec:
                schedule[spec.name] = old
            else:  # first run spread over the interval (capped) so a fleet does not log in lock-step
                schedule[spec.name] = ScheduledQuery(spec, now + self.rng.uniform(0, min(spec.interval, 60)))
        self.schedule = schedule

    async def _osquery_loop(self) -> None:
        assert self._orbit_ready is not None
        await self._orbit_ready.wait()
        next_config = next_read = next_log = next_status = 0.0
        while True:
            now = self._now()
            if self.node_key is None:
                first_enroll = not self.osquery_enrolled
                if not await self._osquery_enroll():
                    await asyncio.sleep(self._backoff())
                    continue
                next_config = next_read = next_log = now
                if first_enroll:  # a re-enroll does not restart osqueryd, so no start-up logs then
                    next_status = now + self.settings.status_log_interval
                    self._status_buffer.extend(startup_status(self.data, time.time()))
            if now >= next_config:
                res, invalid = await self._osquery(OSQUERY_CONFIG, {"node_key": self.node_key})
                if invalid:
                    await asyncio.sleep(self._backoff())
                    continue
                if res.ok and isinstance(res.data, Mapping):
                    self.apply_config(res.data, now)
                elif res.ok:
                    self.transport.protocol_error(OSQUERY_CONFIG, "config is not a JSON object")
                next_config = now + (self._jitter(self.data.config_refresh) if res.status else self._backoff())
            if now >= next_read:
                delay = await self._distributed(now)
                if delay is None:
                    await asyncio.sleep(self._backoff())
                    continue
                next_read = now + delay
            if now >= next_log:
                if now >= next_status:
                    self._status_buffer.extend(periodic_status(self.data, time.time(), self.schedule))
                    next_status = now + self._jitter(self.settings.status_log_interval)
                if await self._send_logs(now):
                    await asyncio.sleep(self._backoff())
                    continue
                next_log = now + self._jitter(self.data.logger_tls_period)
            await self._sleep_until(min(next_config, next_read, next_log))

    async def _distributed(self, now: float) -> float | None:
        """One distributed read (+ write); returns the delay to the next read, None if the key was rejected."""
        node_key = self.node_key
        res, invalid = await self._osquery(DISTRIBUTED_READ, {"node_key": node_key})
        if invalid:
            return None
        if res.status is None:
            return self._backoff()
        if not res.ok:
            return self._jitter(self.data.distributed_interval)
        if not isinstance(res.data, Mapping):
            self.transport.protocol_error(DISTRIBUTED_READ, "response is not a JSON object")
            return self._jitter(self.data.distributed_interval)
        accelerate = _positive(res.data.get("accelerate"), 0.0)
        interval = accelerate if accelerate > 0 else self.data.distributed_interval
        body = build_distributed_write(node_key or "", res.data, self.data)
        if body is not None:
            _, invalid = await self._osquery(DISTRIBUTED_WRITE, body)
            if invalid:
                return None
            self.counters.distributed_writes += 1
            self.counters.distributed_answers += len(body["queries"])
            self.counters.distributed_rows += sum(len(rows) for rows in body["queries"].values())
        return self._jitter(interval)

    async def _send_logs(self, now: float) -> bool:
        """Flush status and due result logs (only when non-empty); True if the node key was rejected."""
        ts = time.time()
        for query in self.schedule.values():
            if query.due(now):
                self._result_buffer.extend(query.run(self.data, ts, now))
        for log_type, buffer, counter in (
            ("status", self._status_buffer, "status_log_entries"),
            ("result", self._result_buffer, "result_log_entries"),
        ):
            if not buffer:
                continue
            del buffer[:-MAX_BUFFERED_LOGS]
            payload = {"node_key": self.node_key, "log_type": log_type, "data": list(buffer)}
            res, invalid = await self._osquery(OSQUERY_LOG, payload, compress=self.settings.gzip)
            if invalid:
                return True
            if res.ok:
                setattr(self.counters, counter, getattr(self.counters, counter) + len(payload["data"]))
                buffer.clear()
        return False
