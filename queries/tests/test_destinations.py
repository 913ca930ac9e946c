"""Log destinations: rotated JSON-lines files, stdout, and a batching webhook that never blocks the agent."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from conftest import AgentClient
from enrollment.tests.fixtures import EnrolledHost
from queries import destinations


class Receiver(http.server.ThreadingHTTPServer):
    """A loopback HTTP server that records posted bodies and can fail or stall on demand."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.failures = 0  # answer this many requests with 500 first
        self.delay = 0.0
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/logs"

    def entries(self) -> list[Any]:
        return [entry for body in self.bodies for entry in body["data"]]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(self.server.delay)
        if self.server.failures > 0:
            self.server.failures -= 1
            self.send_response(500)
        else:
            self.server.bodies.append(orjson.loads(body))
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    destinations._registry.clear()
    yield
    destinations.flush(2)
    destinations._registry.clear()


def lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


# --- filesystem --------------------------------------------------------------------------------


def test_filesystem_is_the_default(settings: Any) -> None:
    destinations.write("result", [{"name": "a"}, {"name": "b"}])
    destinations.write("status", [{"message": "hi"}])
    destinations.write("result", [])
    log_dir = Path(settings.DATA_DIR) / "logs"
    assert lines(log_dir / "osqueryd.results.log") == [{"name": "a"}, {"name": "b"}]
    assert lines(log_dir / "osqueryd.status.log") == [{"message": "hi"}]


def test_filesystem_rotates_and_keeps_n_files(settings: Any, tmp_path: Path) -> None:
    settings.FLEETSITE_LOG_DIR = str(tmp_path / "custom")
    settings.FLEETSITE_LOG_ROTATE_MB = 200 / (1024 * 1024)  # 200 bytes
    settings.FLEETSITE_LOG_KEEP = 2
    for n in range(10):
        destinations.write("result", [{"n": n, "pad": "x" * 80}])
    path = tmp_path / "custom" / "osqueryd.results.log"
    kept = [lines(Path(f"{path}{suffix}")) for suffix in (".2", ".1", "")]
    assert [entry["n"] for batch in kept for entry in batch] == [4, 5, 6, 7, 8, 9]
    assert not Path(f"{path}.3").exists()


def test_a_batch_bigger_than_the_limit_still_lands_whole(settings: Any) -> None:
    settings.FLEETSITE_LOG_ROTATE_MB = 10 / (1024 * 1024)
    destinations.write("result", [{"n": n} for n in range(50)])
    assert len(lines(destinations.log_path("result"))) == 50


def test_concurrent_writers_never_interleave_lines(settings: Any) -> None:
    settings.FLEETSITE_LOG_ROTATE_MB = 0
    entry = {"pad": "y" * 5000}

    def work() -> None:
        for _ in range(20):
            destinations.write("result", [entry, entry])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert lines(destinations.log_path("result")) == [entry] * 160


def test_a_file_renamed_by_another_process_is_left_for_the_new_one(settings: Any, monkeypatch: Any) -> None:
    settings.FLEETSITE_LOG_ROTATE_MB = 0
    monkeypatch.setattr(destinations, "RECHECK_SECONDS", 0)
    destinations.write("result", [{"n": 1}])
    path = destinations.log_path("result")
    path.rename(f"{path}.1")  # what another server process's rotation (or logrotate) does
    destinations.write("result", [{"n": 2}])
    assert lines(Path(f"{path}.1")) == [{"n": 1}]
    assert lines(path) == [{"n": 2}]


def test_two_processes_rotate_a_full_file_once(settings: Any) -> None:
    """Each server process keeps its own open file: the second to see it full finds it rotated already."""
    settings.FLEETSITE_LOG_ROTATE_MB = 200 / (1024 * 1024)
    first, second = destinations.FilesystemDestination(), destinations.FilesystemDestination()
    entry = {"pad": "x" * 80}  # 93 bytes a line: two fit in 200
    first.write("result", [{**entry, "n": 0}])
    second.write("result", [{**entry, "n": 1}])
    first.write("result", [{**entry, "n": 2}])  # full: rotated
    second.write("result", [{**entry, "n": 3}])  # its file is the rotated one; the new one has room
    path = destinations.log_path("result")
    assert [line["n"] for line in lines(Path(f"{path}.1"))] == [0, 1]
    assert [line["n"] for line in lines(path)] == [2, 3]
    assert not Path(f"{path}.2").exists()


# --- stdout ------------------------------------------------------------------------------------


def test_stdout(settings: Any, capsys: pytest.CaptureFixture[str]) -> None:
    settings.FLEETSITE_STATUS_LOG_DESTINATIONS = ["stdout"]
    destinations.write("status", [{"message": "one"}, {"message": "two"}])
    assert capsys.readouterr().out == '{"message":"one"}\n{"message":"two"}\n'
    assert not destinations.log_path("status").exists()


# --- webhook -----------------------------------------------------------------------------------


def test_webhook_batches_in_the_background(settings: Any, receiver: Receiver) -> None:
    settings.FLEETSITE_RESULT_LOG_DESTINATIONS = ["webhook", "filesystem"]
    settings.FLEETSITE_LOG_WEBHOOK_URL = receiver.url
    settings.FLEETSITE_LOG_WEBHOOK_BATCH = 100
    for n in range(250):
        destinations.write("result", [{"n": n}])
    assert destinations.flush(5)
    assert [entry["n"] for entry in receiver.entries()] == list(range(250))
    assert all(body["log_type"] == "result" and len(body["data"]) <= 100 for body in receiver.bodies)
    assert len(lines(destinations.log_path("result"))) == 250


def test_a_slow_receiver_never_blocks_the_writer(settings: Any, receiver: Receiver) -> None:
    settings.FLEETSITE_RESULT_LOG_DESTINATIONS = ["webhook"]
    settings.FLEETSITE_LOG_WEBHOOK_URL = receiver.url
    receiver.delay = 1.0
    started = time.monotonic()
    for n in range(20):
        destinations.write("result", [{"n": n}])
    assert time.monotonic() - started < 0.5
    assert destinations.flush(10)
    assert len(receiver.entries()) == 20


def test_failed_posts_are_retried(settings: Any, receiver: Receiver) -> None:
    webhook = destinations.WebhookDestination(receiver.url, "status", backoff=0.01)
    receiver.failures = 2
    webhook.write("status", [{"m": 1}])
    assert webhook.flush(5)
    assert receiver.entries() == [{"m": 1}] and webhook.sent == 1 and webhook.dropped == 0


def test_retries_give_up_and_count_the_loss(receiver: Receiver) -> None:
    webhook = destinations.WebhookDestination(receiver.url, "status", retries=2, backoff=0.01)
    receiver.failures = 10
    webhook.write("status", [{"m": 1}, {"m": 2}])
    assert webhook.flush(5)
    assert receiver.entries() == [] and webhook.dropped == 2


def test_an_unreachable_receiver_is_survived(receiver: Receiver) -> None:
    url = receiver.url
    receiver.shutdown()
    receiver.server_close()
    webhook = destinations.WebhookDestination(url, "result", retries=2, backoff=0.01, timeout=1)
    webhook.write("result", [{"m": 1}])
    assert webhook.flush(5) and webhook.dropped == 1


def test_the_buffer_is_bounded_and_drops_the_oldest(receiver: Receiver) -> None:
    receiver.delay = 0.5
    webhook = destinations.WebhookDestination(receiver.url, "result", batch_size=1, buffer_size=5)
    webhook.write("result", [{"n": 0}])
    deadline = time.monotonic() + 5
    while webhook._in_flight == 0 and time.monotonic() < deadline:  # the thread now holds n=0 in flight
        time.sleep(0.01)
    webhook.write("result", [{"n": n} for n in range(1, 11)])
    assert webhook.dropped == 5
    assert webhook.flush(10)
    assert [entry["n"] for entry in receiver.entries()] == [0, 6, 7, 8, 9, 10]


# --- settings and the agent endpoint -------------------------------------------------------------


def test_unknown_destination_is_refused(settings: Any) -> None:
    settings.FLEETSITE_RESULT_LOG_DESTINATIONS = ["kafka"]
    with pytest.raises(ValueError, match="unknown log destination"):
        destinations.write("result", [{"n": 1}])


def test_log_endpoint_writes_results_and_status(agent: AgentClient, ubuntu_host: EnrolledHost) -> None:
    result = {"name": "pack/Global/x", "action": "added", "columns": {"a": "1"}}
    agent.json("/api/osquery/log", ubuntu_host.body(log_type="result", data=[result]))
    agent.json("/api/osquery/log", ubuntu_host.body(log_type="status", data=[{"message": "m"}]))
    assert lines(destinations.log_path("result")) == [result]
    assert lines(destinations.log_path("status")) == [{"message": "m"}]
