"""fleetctl compatibility: replay the requests fleetctl sends and check what it decodes.

Each file in `fleetctl/` records one command's requests, read from Fleet's client source (see
`fleetctl/README.md` for the format and the Fleet commits). The replay seeds a host, a team, a
label, a saved query, a policy, a pack, a carve and an activity, logs in as fleetctl does, runs
the prelude every authenticated command runs, then each step: the status must be the one
fleetctl accepts and every key it decodes must have the type its Go structs need.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts.models import Team, User
from activities.record import record
from carves.models import Carve, CarveBlock
from conftest import PASSWORD
from fleetsite.routing import websocket_urlpatterns
from hosts.models import Host, HostSoftware, Label, LabelMembership, Software
from queries import live
from queries.models import Pack, PackQuery, Policy, Query
from software_installers.tests.conftest import make_deb

DATA = Path(__file__).parent / "fleetctl"
PRELUDE = json.loads((DATA / "_prelude.json").read_text())
WRITE = "/api/osquery/distributed/write"
# Go's time.Time accepts RFC 3339 only: a date, "T", a time, optional fraction, then Z or an offset.
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


STEP_KEYS = {
    "method", "path", "query", "body", "status", "decode", "min_items", "nonempty", "equals", "not_equals",
    "contains", "not_contains", "message_contains", "capture", "poll",
}  # fmt: skip


def _load(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text())


def _sequences() -> list[Any]:
    """Every recorded command, skipped while the route it needs is built on another branch."""
    params = []
    for path in sorted(DATA.glob("*.json")):
        if path.name.startswith("_"):
            continue
        spec = json.loads(path.read_text())
        marks = []
        if spec.get("needs"):
            needs = spec["needs"]
            marks.append(pytest.mark.skip(reason=f"needs {needs['route']}: built on branch {needs['branch']}"))
        params.append(pytest.param(path.stem, marks=marks, id=path.stem))
    return params


# --- decoding as Go does ------------------------------------------------------------------------


def _type_ok(value: Any, wanted: str) -> bool:
    """Whether `value` decodes into a Go field of type `wanted` (`int`, `str|null`, ...)."""
    for kind in wanted.split("|"):
        if kind == "null" and value is None:
            return True
        if kind == "any":
            return True
        if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
            return True
        if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
            return True
        if kind == "str" and isinstance(value, str):
            return True
        if kind == "time" and isinstance(value, str) and RFC3339.match(value):
            return True
        if kind == "bool" and isinstance(value, bool):
            return True
        if kind == "list" and isinstance(value, list):
            return True
        if kind == "object" and isinstance(value, dict):
            return True
    return False


_MISSING = object()


def _values(document: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Each value at `path` (`a.b`, `a[].b`: every element of `a`); _MISSING where a key is absent."""

    def walk(node: Any, parts: list[str], where: str) -> Iterator[tuple[str, Any]]:
        if not parts:
            yield where, node
            return
        part, rest = parts[0], parts[1:]
        each = part.endswith("[]")
        key = part[:-2] if each else part
        if not isinstance(node, dict) or key not in node:
            yield f"{where}.{key}", _MISSING
            return
        child = node[key]
        if not each:
            yield from walk(child, rest, f"{where}.{key}")
            return
        if child is None:  # a Go slice decodes null as empty
            return
        assert isinstance(child, list), f"{where}.{key} should be a list, got {child!r:.200}"
        for index, item in enumerate(child):
            yield from walk(item, rest, f"{where}.{key}[{index}]")

    # Keys may hold dots (a team named "a.b" in team_ids_by_name): split on dots outside names we know.
    yield from walk(document, path.split("."), "$")


def check_decode(document: Any, decode: dict[str, str]) -> None:
    """Fail unless every key fleetctl decodes has a type its struct accepts."""
    for raw_path, wanted in decode.items():
        optional = raw_path.startswith("?")
        path = raw_path.lstrip("?")
        for where, value in _values(document, path):
            if value is _MISSING:
                assert optional, f"{where} missing (fleetctl decodes it as {wanted})"
                continue
            assert _type_ok(value, wanted), f"{where} = {value!r:.200} does not decode as {wanted}"


def _collect(document: Any, path: str) -> Any:
    """The value at `path`, or a list of values when the path goes through a list."""
    values = [value for _, value in _values(document, path) if value is not _MISSING]
    return values if "[]" in path else (values[0] if values else _MISSING)


# --- seeding ------------------------------------------------------------------------------------


def _fill(template: Any, names: dict[str, Any]) -> Any:
    """Placeholders replaced: a string that is only `{name}` takes the value's own type."""
    if isinstance(template, str):
        whole = re.fullmatch(r"\{([a-z_.]+)\}", template)
        if whole and whole.group(1) in names:
            return names[whole.group(1)]
        return re.sub(r"\{([a-z_.]+)\}", lambda m: str(names.get(m.group(1), m.group(0))), template)
    if isinstance(template, list):
        return [_fill(item, names) for item in template]
    if isinstance(template, dict):
        return {_fill(key, names): _fill(value, names) for key, value in template.items()}
    return template


@pytest.fixture
def package_url(settings: Any, tmp_path: Path) -> Iterator[str]:
    """A real .deb served over loopback HTTP, for the gitops software sequence to download."""
    settings.FLEETSITE_SOFTWARE_INSTALLERS_DIR = tmp_path / "installers"
    settings.FLEETSITE_S3_SOFTWARE_INSTALLERS_BUCKET = ""
    served = tmp_path / "served"
    served.mkdir()
    (served / "hello_2.10-3_amd64.deb").write_bytes(make_deb())
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hello_2.10-3_amd64.deb"
    server.shutdown()
    server.server_close()


@pytest.fixture
def seeded(admin: User, team: Team, ubuntu_host: Any, package_url: str) -> dict[str, Any]:
    """What fleetctl's commands list: one of each object, named as the sequences say."""
    host: Host = ubuntu_host.refresh()
    label = Label.objects.create(name="fleetctl label", query="", label_membership_type="manual")
    LabelMembership.objects.create(label=label, host=host)
    sql = "SELECT * FROM osquery_info;"
    query = Query.objects.create(name="fleetctl query", query=sql, interval=3600, author=admin)
    policy = Policy.objects.create(name="fleetctl policy", query="SELECT 1;", author=admin)
    pack = Pack.objects.create(name="fleetctl pack seeded")
    PackQuery.objects.create(pack=pack, query=query, name=query.name, interval=60)
    software = Software.objects.create(name="curl", version="8.5.0", source="deb_packages", checksum="fleetctl-curl")
    HostSoftware.objects.get_or_create(host=host, software=software)
    carve = Carve.objects.create(
        host=host, name="carve-1", session_id="6f1c9d9e-0000-4000-8000-000000000001", request_id="req-1",
        carve_id="c-1", block_count=1, block_size=8, carve_size=5, max_block=0,
    )  # fmt: skip
    CarveBlock.objects.create(carve=carve, block_id=0, data=b"hello")
    record(admin, "created_saved_query", {"query_id": query.pk, "query_name": query.name})
    User.objects.create_user(email="roles-target@example.com", password=PASSWORD, name="Roles target")  # user_roles
    return {
        "host.id": host.pk, "host.hostname": host.hostname, "host.uuid": host.uuid,
        "team.id": team.pk, "team.name": team.name,
        "label.id": label.pk, "label.name": label.name,
        "query.id": query.pk, "query.name": query.name,
        "policy.id": policy.pk, "pack.name": pack.name, "carve.id": carve.pk,
        "admin.email": admin.email, "password": PASSWORD, "package.url": package_url,
    }  # fmt: skip


# --- the replay ---------------------------------------------------------------------------------


class Fleetctl:
    """Sends requests the way fleetctl's Go client does: JSON bodies, raw query strings, a bearer token."""

    def __init__(self, token: str | None = None) -> None:
        self.client = Client()
        self.token = token

    def send(self, method: str, path: str, query: str, body: Any) -> Any:
        url = f"{path}?{query}" if query else path
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        data = orjson.dumps(body) if body is not None else b""
        response = self.client.generic(method, url, data, content_type="application/json", headers=headers)
        if getattr(response, "streaming", False):
            content = b"".join(response.streaming_content)
        else:
            content = response.content
        return response.status_code, orjson.loads(content) if content.strip() else None


def login(names: dict[str, Any]) -> str:
    status, body = Fleetctl().send(
        "POST", "/api/latest/fleet/login", "", {"email": names["admin.email"], "password": names["password"]}
    )
    assert status == 200, body
    return body["token"]


def run_step(client: Fleetctl, step: dict[str, Any], names: dict[str, Any]) -> Any:
    """One request; asserts what fleetctl needs of the answer and returns the decoded body."""
    method, path = step["method"], _fill(step["path"], names)
    status, body = client.send(method, path, _fill(step["query"], names), _fill(step["body"], names))
    for _ in range(50 if "poll" in step else 0):  # fleetctl asks again while the server says it is busy
        if status != 200 or _collect(body, step["poll"]["path"]) not in step["poll"]["while"]:
            break
        time.sleep(0.2)
        status, body = client.send(method, path, _fill(step["query"], names), _fill(step["body"], names))
    label = f"{method} {path}"
    allowed = step["status"] if isinstance(step["status"], list) else [step["status"]]
    assert status in allowed, f"{label}: {status} {body!r:.500}"
    if body is None:
        # Fleet's client json.Unmarshals every 200 answer into its response struct: an empty body is an error.
        assert status != 200, f"{label}: empty 200 body; fleetctl fails with 'unexpected end of JSON input'"
        return body
    assert status != 200 or isinstance(body, dict), f"{label}: fleetctl decodes a JSON object, got {body!r:.200}"
    if status != allowed[0]:  # another status fleetctl tolerates (403 on /config): it decodes nothing from it
        return body
    check_decode(body, step["decode"])
    for path_ in step.get("min_items", []):
        value = _collect(body, path_)
        assert value is not _MISSING and value, f"{label}: {path_} is empty; the seeded objects should be listed"
    for path_ in step.get("nonempty", []):
        assert _collect(body, path_), f"{label}: {path_} is empty"
    for path_, expected in _fill(step.get("equals", {}), names).items():
        assert _collect(body, path_) == expected, f"{label}: {path_} = {_collect(body, path_)!r}, not {expected!r}"
    for path_, unexpected in step.get("not_equals", {}).items():
        assert _collect(body, path_) != unexpected, f"{label}: {path_} is {unexpected!r}"
    for path_, wanted in _fill(step.get("contains", {}), names).items():
        assert set(wanted) <= set(_collect(body, path_)), f"{label}: {path_} lacks some of {wanted}"
    for path_, unwanted in _fill(step.get("not_contains", {}), names).items():
        assert not set(unwanted) & set(_collect(body, path_)), f"{label}: {path_} has some of {unwanted}"
    if "message_contains" in step:
        assert step["message_contains"] in orjson.dumps(body).decode(), f"{label}: {body!r:.300}"
    for name, path_ in step.get("capture", {}).items():
        names[name] = _collect(body, path_)
    return body


def replay(spec: dict[str, Any], names: dict[str, Any], token: str) -> Fleetctl:
    """Run a command's prelude and steps with a session from a real login."""
    client = Fleetctl(spec.get("token", token))
    names["token"] = client.token
    steps = (PRELUDE["steps"] if spec.get("prelude") else []) + spec["steps"]
    for step in steps:
        run_step(client, step, names)
    return client


@pytest.mark.parametrize("name", _sequences())
def test_fleetctl_sequence(name: str, seeded: dict[str, Any], request: pytest.FixtureRequest) -> None:
    """Each recorded command gets the statuses and keys fleetctl needs (live-query sockets: below)."""
    spec = _load(name)
    names = dict(seeded)
    if spec.get("as"):  # a persona from conftest, e.g. a team observer
        names["admin.email"] = request.getfixturevalue(spec["as"]).email
    token = login(names) if spec.get("prelude") or spec.get("websocket") else ""
    replay(spec, names, token)


# --- fleetctl query: the websocket after run_by_identifiers --------------------------------------

application = URLRouter(websocket_urlpatterns)


async def _frames(communicator: WebsocketCommunicator, until: Callable[[dict], bool], limit: int = 30) -> list[dict]:
    frames = []
    for _ in range(limit):
        frame = await communicator.receive_json_from(timeout=5)
        frames.append(frame)
        if until(frame):
            return frames
    raise AssertionError(f"fleetctl would still be waiting: {frames}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", ["query_hosts", "query_labels"])
async def test_fleetctl_query_streams_what_fleetctl_reads(
    name: str, admin: User, team: Team, enroll_host: Any, agent: Any
) -> None:
    """fleetctl query: the campaign, then totals, status and one result per host until all answered."""
    spec = _load(name)
    enrolled = await database_sync_to_async(enroll_host)()
    label = await database_sync_to_async(Label.objects.create)(name="fleetctl label", label_membership_type="manual")
    await database_sync_to_async(LabelMembership.objects.create)(label=label, host=enrolled.host)
    names = {"host.hostname": enrolled.host.hostname, "label.name": label.name, "admin.email": admin.email}
    names["password"] = PASSWORD
    token = await database_sync_to_async(login)(names)
    await database_sync_to_async(replay)(spec, names, token)
    campaign_id = names["campaign_id"]

    communicator = WebsocketCommunicator(application, spec["websocket"]["path"])
    assert (await communicator.connect())[0]
    for message in _fill(spec["websocket"]["send"], names):
        await communicator.send_json_to(message)
    live.register_loop(asyncio.get_running_loop())
    try:
        frames = await _frames(communicator, lambda f: f["type"] == "status")
        column = f"fleet_distributed_query_{campaign_id}"
        body = enrolled.body(queries={column: [{"version": "5.12.1"}]}, statuses={column: 0})
        await database_sync_to_async(agent.json)(WRITE, body)
        frames += await _frames(communicator, lambda f: f["type"] == "result")
        frames += await _frames(communicator, lambda f: f["type"] == "status" and f["data"]["actual_results"] >= 1)
    finally:
        live.register_loop(None)
        await communicator.disconnect()
    by_type: dict[str, list[dict]] = {}
    for frame in frames:
        assert frame["type"] in spec["websocket"]["frames"], f"fleetctl reports 'unknown msg type' for {frame}"
        by_type.setdefault(frame["type"], []).append(frame["data"])
    for kind, decode in spec["websocket"]["frames"].items():
        assert by_type.get(kind), f"no {kind} frame in {frames}"
        for data in by_type[kind]:
            check_decode(data, decode)
    totals, result = by_type["totals"][-1], by_type["result"][0]
    assert totals["count"] == 1  # fleetctl stops when actual_results reaches count
    assert by_type["status"][-1]["actual_results"] == totals["count"]
    assert result["distributed_query_execution_id"] == campaign_id
    assert result["host"]["hostname"] == enrolled.host.hostname
    assert result["rows"][0]["version"] == "5.12.1"


# --- the test data itself -------------------------------------------------------------------------


def test_every_sequence_names_its_fleet_source() -> None:
    """The data says where each sequence comes from, so it can be checked against Fleet again."""
    for path in DATA.glob("*.json"):
        spec = json.loads(path.read_text())
        assert spec["fleet_source"]["files"], path.name
        for step in spec["steps"]:
            assert {"method", "path", "query", "body", "status", "decode"} <= set(step), (path.name, step)
            assert set(step) <= STEP_KEYS, (path.name, set(step) - STEP_KEYS)
            assert step["path"].startswith(("/api/latest/fleet/", "/api/v1/")), (path.name, step["path"])


def test_decode_check_catches_what_go_rejects() -> None:
    """The checker itself: wrong types, missing keys and non-RFC 3339 times fail."""
    check_decode({"a": [{"b": 1}]}, {"a[].b": "int", "?a[].c": "str"})
    with pytest.raises(AssertionError):
        check_decode({"a": [{"b": "1"}]}, {"a[].b": "int"})
    with pytest.raises(AssertionError):
        check_decode({"a": {}}, {"a.b": "str"})
    with pytest.raises(AssertionError):
        check_decode({"t": "2024-01-01 10:00:00"}, {"t": "time"})
    check_decode({"t": "2024-01-01T10:00:00.5+02:00", "n": None}, {"t": "time", "n": "int|null"})
    assert datetime.fromisoformat("2024-01-01T10:00:00+00:00")
