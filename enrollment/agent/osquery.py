"""The osquery TLS remote API (fleet-protocol §1): enroll, config, log, distributed, carves."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from carves import service as carve_service
from enrollment import enroll as enrollment
from enrollment import secrets
from enrollment.agent.base import (
    AgentError,
    AgentView,
    OsqueryErrorMixin,
    check_key_length,
    fleet_error_body,
    json_response,
    require_identifier,
)
from enrollment.models import EnrollSecret
from fleetsite import agent_options
from fleetsite.lib.db import atomic_with_retry
from fleetsite.lib.tokens import digest
from fleetsite.metrics import record_checkin
from fleetsite.models import FleetConfig
from hosts import seen
from hosts.constants import ACCELERATE_SECONDS
from hosts.distributed import WriteResults, collect_host_results, host_queries
from hosts.ingest import HostUpdate, host_update_steps, prepare_shared_rows, save_host_update
from hosts.lookup import host_by_key
from hosts.models import Host
from queries import checkin, destinations, packconfig, reports, schedule

logger = logging.getLogger(__name__)


class OsqueryView(OsqueryErrorMixin, AgentView):
    """An osquery endpoint; `endpoint` names it in metrics."""

    endpoint = ""


def authenticate_node(body: dict[str, Any], for_write: bool = False) -> Host:
    """§1.7: the host owning `node_key`, or a 401 with `node_invalid` that makes osquery re-enroll.

    `for_write`: load what a distributed/write needs besides (`hosts.lookup.WRITE_FIELDS`).
    """
    node_key = body.get("node_key")
    if not isinstance(node_key, str) or not node_key:
        raise AgentError("authentication error: missing node key", status=401, node_invalid=True)
    check_key_length("node_key", node_key)
    host = host_by_key("node_key_digest", digest(node_key), for_write=for_write)
    if host is None:
        raise AgentError(f"authentication error: invalid node key: {node_key[:64]}", status=401, node_invalid=True)
    now = timezone.now()
    host.seen_time = now
    host.online_until = now + host.online_interval
    seen.buffer.mark(host.pk, now, host.online_until)
    return host


class EnrollView(OsqueryView):
    endpoint = "enroll"

    def handle(self, request: HttpRequest, body: dict[str, Any], **kwargs: Any) -> HttpResponse:
        enroll_secret = require_identifier(body, "enroll_secret", EnrollSecret, "secret")
        identifier = require_identifier(body, "host_identifier", Host, "osquery_host_id")
        host_details = body.get("host_details") or {}
        if not isinstance(host_details, dict):
            raise AgentError("host_details must be an object")
        secret = secrets.find(enroll_secret)
        if secret is None:
            # §1.1 step 1: an unknown secret is a 401 with node_invalid.
            raise AgentError("enroll failed: invalid secret", status=401, node_invalid=True)
        enrolled = enrollment.enroll_osquery(secret, identifier, host_details)
        record_checkin(self.endpoint)
        return json_response({"node_key": enrolled.node_key})


class ConfigView(OsqueryView):
    endpoint = "config"

    def handle(self, request: HttpRequest, body: dict[str, Any], **kwargs: Any) -> HttpResponse:
        host = authenticate_node(body)
        options = agent_options.effective(host.team_id)
        config = agent_options.osquery_config_for(options, host.platform)
        packs = {**schedule.packs_for(host.team_id), **packconfig.packs_for_host(host)}
        if packs:
            config["packs"] = packs
        _remember_served_intervals(host, config.get("options") or {})
        record_checkin(self.endpoint)
        return json_response(config)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _remember_served_intervals(host: Host, options: dict[str, Any]) -> None:
    """§1.2 side effect: the served intervals feed the online rule, so store them when they change."""
    served = {
        "distributed_interval": _as_int(options.get("distributed_interval")),
        "logger_tls_period": _as_int(options.get("logger_tls_period")),
        "config_tls_refresh": _as_int(options.get("config_tls_refresh", options.get("config_refresh"))),
    }
    changed = {name: value for name, value in served.items() if value is not None and getattr(host, name) != value}
    if changed:
        save_host_update(host, HostUpdate(fields=changed))


class LogView(OsqueryView):
    endpoint = "log"

    def handle(self, request: HttpRequest, body: dict[str, Any], **kwargs: Any) -> HttpResponse:
        host = authenticate_node(body)
        log_type = body.get("log_type")
        if log_type not in ("result", "status"):
            raise AgentError(f"unknown log type: {log_type}")
        data = body.get("data")
        if data is None:
            data = []
        if not isinstance(data, list) or not all(isinstance(entry, dict) for entry in data):
            raise AgentError(f"unmarshalling {log_type} logs: data must be a list of objects")
        if log_type == "result":
            reports.ingest_result_logs(host, data)  # commits (or logs its failure) before any line is written
        # Last, when nothing else can fail the request: an error before this point leaves no line
        # behind for osquery's resend to write again, and one here makes it resend (at-least-once).
        destinations.write(log_type, data)
        record_checkin(f"{self.endpoint}_{log_type}")
        return json_response({})


class DistributedReadView(OsqueryView):
    endpoint = "distributed_read"

    def handle(self, request: HttpRequest, body: dict[str, Any], **kwargs: Any) -> HttpResponse:
        host = authenticate_node(body)
        now = timezone.now()
        pending = host_queries(host, now, FleetConfig.load().features)
        checkin.add_pending(host, pending, now)
        response: dict[str, Any] = {"queries": pending.queries, "discovery": pending.discovery}
        if not host.hostname or not host.platform:
            response["accelerate"] = ACCELERATE_SECONDS
        record_checkin(self.endpoint)
        return json_response(response)


def parse_write(body: dict[str, Any]) -> WriteResults:
    """§1.5 parsing: "" or junk rows mean no rows; statuses must be ints or numeric strings."""
    queries, statuses, messages, stats = (
        {} if body.get(key) is None else body[key] for key in ("queries", "statuses", "messages", "stats")
    )
    for key, value in (("queries", queries), ("statuses", statuses), ("messages", messages), ("stats", stats)):
        if not isinstance(value, dict):
            raise AgentError(f"{key} must be an object")
    rows: dict[str, list[dict[str, Any]]] = {}
    for name, value in queries.items():
        rows[name] = [row for row in value if isinstance(row, dict)] if isinstance(value, list) else []
    failed: set[str] = set()
    for name, status in statuses.items():
        if isinstance(status, bool) or not isinstance(status, int | str):
            raise AgentError(f"status of {name} must be an integer, got {type(status).__name__}")
        if isinstance(status, str):
            try:
                status = int(status)
            except ValueError as exc:
                raise AgentError(f"status of {name} must be an integer, got {status!r}") from exc
        if status != 0:
            failed.add(name)
            rows.setdefault(name, [])
    text_messages = {name: str(text) for name, text in messages.items()}
    return WriteResults(rows=rows, failed=failed, messages=text_messages, stats=stats)


class DistributedWriteView(OsqueryView):
    endpoint = "distributed_write"

    def handle(self, request: HttpRequest, body: dict[str, Any], **kwargs: Any) -> HttpResponse:
        host = authenticate_node(body, for_write=True)
        results = parse_write(body)
        now = timezone.now()
        update = collect_host_results(host, results, now, getattr(request, "client_ip", ""))
        answers = checkin.collect(host, results, now)
        _prepare_software(host, update)
        save_write(host, update, answers, now)
        checkin.after_commit(host, answers)
        record_checkin(self.endpoint)
        return json_response({})


def _prepare_software(host: Host, update: HostUpdate) -> None:
    """The shared software rows, outside the host's transaction; if refused, only the software answer is lost."""
    if update.software is None:
        return
    try:
        # No transaction: each statement commits alone (an INSERT that ignores rows another host
        # added meanwhile, then a SELECT), which holds no locks between them and saves the
        # BEGIN/COMMIT round trips.
        prepare_shared_rows(update, owner=host.pk)
    except DatabaseError:
        logger.exception("storing the software catalogue rows of host %s failed; its software is dropped", host.pk)
        update.software = None


def save_write(host: Host, update: HostUpdate, answers: checkin.Answers, now: Any) -> None:
    """Store a distributed/write in one transaction; if the database refuses any part, each part alone.

    Values are fitted to their columns first (`fleetsite.lib.bounds`), so the fallback is for what
    fitting cannot foresee. It runs every answer (and every host column) in its own savepoint:
    one refused answer is logged and dropped, and the label, policy and live-query answers beside
    it are kept, so the agent is not left resending the same poison. The usual path has no
    savepoints and so costs no extra queries.
    """

    def save_all() -> None:
        for _, step in host_update_steps(host, update) + checkin.save_steps(host, answers, now):
            step()

    try:
        atomic_with_retry(save_all)
        return
    except DatabaseError:
        logger.warning("a distributed/write of host %s was refused; storing its answers one by one", host.pk)

    def save_each() -> None:
        for name, step in host_update_steps(host, update, per_field=True) + checkin.save_steps(host, answers, now):
            try:
                with transaction.atomic():
                    step()
            except DatabaseError:
                logger.exception("dropping the %s answer of host %s", name, host.pk)
                checkin.drop(answers, name)

    atomic_with_retry(save_each)


class CarveBeginView(OsqueryView):
    endpoint = "carve_begin"

    def handle(self, request: HttpRequest, body: dict[str, Any], **kwargs: Any) -> HttpResponse:
        host = authenticate_node(body)
        carve = carve_service.begin(host, body)
        record_checkin(self.endpoint)
        return json_response({"session_id": carve.session_id, "success": True})


class CarveBlockView(OsqueryView):
    endpoint = "carve_block"

    def handle(self, request: HttpRequest, body: dict[str, Any], **kwargs: Any) -> HttpResponse:
        carve_service.add_block(body)
        record_checkin(self.endpoint)
        return json_response({"success": True})


# Fleet's answer for a rule it does not store (NotFoundError for the "YaraRule" resource).
YARA_NOT_FOUND = "YaraRule was not found in the datastore"


class YaraRuleView(OsqueryView):
    """`POST /api/osquery/yara/{name}`: osquery fetching a YARA rule named in its `yara.signature_urls`.

    Fleet serves rules an admin stored with the `yara_rules` setting, as plain text. Fleetsite
    stores no YARA rules yet, so after the node key checks out every name gets Fleet's 404.
    """

    endpoint = "yara"
    fleet_route_refused = True  # answered with Fleet's own not-found on purpose (fleetsite/fleet_routes.py)

    def handle(self, request: HttpRequest, body: dict[str, Any], **kwargs: Any) -> HttpResponse:
        authenticate_node(body)
        record_checkin(self.endpoint)
        return json_response(fleet_error_body("Resource Not Found", YARA_NOT_FOUND), status=404)
