"""fleetd's side of scripts (fleet-protocol §2): fetch a queued script, report its result."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from enrollment.agent.base import AgentError, json_response, require_str
from enrollment.agent.orbit import OrbitView, authenticate_orbit
from fleetsite.metrics import record_checkin
from scripts import service
from variables import service as variables

# fleetd's integers are Go ints; anything beyond 32 bits is not a runtime or an exit code.
_INT_RANGE = range(-(2**31), 2**31)


def _int(body: dict[str, Any], key: str, default: int | None = None) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value not in _INT_RANGE:
        raise AgentError(f"{key} must be an integer")
    return value


def _execution_id(body: dict[str, Any]) -> str:
    value = require_str(body, "execution_id", allow_empty=False)
    if len(value) > 36:
        raise AgentError("execution_id must be at most 36 characters")
    return value


class ScriptRequestView(OrbitView):
    """`POST /api/fleet/orbit/scripts/request`: the script behind a pending execution id."""

    endpoint = "orbit_script_request"

    def handle(self, request: HttpRequest, body: dict[str, Any], **kwargs: Any) -> HttpResponse:
        host = authenticate_orbit(body)
        execution = service.orbit_request(host, _execution_id(body))
        if execution is None:
            raise AgentError("script execution not found", status=404)
        record_checkin(self.endpoint)
        return json_response(
            {
                "host_id": host.pk,
                "execution_id": execution.execution_id,
                "batch_execution_id": execution.batch.batch_execution_id if execution.batch_id else None,
                # $FLEET_SECRET_X values reach the host only, never the stored script or the API.
                "script_contents": variables.expand(execution.contents),
                "output": execution.output,
                "runtime": execution.runtime,
                "exit_code": execution.exit_code,
                "timeout": execution.timeout,
                "script_id": execution.script_id,
                "policy_id": None,
                "team_id": host.team_id,
                "message": "",
            }
        )


class ScriptResultView(OrbitView):
    """`POST /api/fleet/orbit/scripts/result`: store what fleetd ran (-1 timed out, -2 scripts disabled)."""

    endpoint = "orbit_script_result"

    def handle(self, request: HttpRequest, body: dict[str, Any], **kwargs: Any) -> HttpResponse:
        host = authenticate_orbit(body)
        payload = {
            "execution_id": _execution_id(body),
            "output": require_str(body, "output"),
            "runtime": _int(body, "runtime", 0),
            "exit_code": _int(body, "exit_code"),
            "timeout": _int(body, "timeout", 0),
        }
        # The host is the one the key names, whatever `host_id` says (fleet-protocol §2).
        if not service.orbit_result(host, payload):
            raise AgentError("script execution not found", status=404)
        record_checkin(self.endpoint)
        return json_response({})
