"""What every agent endpoint shares: body limits, gzip, JSON parsing and error bodies.

These views are plain Django views rather than DRF APIViews: agents are the hot path, and
DRF's request wrapping, negotiation and renderers cost more than the whole check-in
(see `make bench`). They are CSRF-exempt and carry no session; the key is in the body.
"""

from __future__ import annotations

import logging
import zlib
from typing import Any

import orjson
from django.conf import settings
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from fleetsite.lib import bounds

logger = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


class AgentError(Exception):
    """An error answered to an agent; the view's family decides the body shape."""

    def __init__(self, message: str, status: int = 400, node_invalid: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.node_invalid = node_invalid


class AuthRequired(AgentError):
    """fleet-protocol §2.3: an unknown orbit key or device token."""

    def __init__(self) -> None:
        super().__init__("Authentication required", status=401)


class AuthFailed(AgentError):
    """fleet-protocol §2.1: an unknown enroll secret at orbit enroll."""

    def __init__(self) -> None:
        super().__init__("Authentication failed", status=401)


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(orjson.dumps(payload), status=status, content_type=JSON_CONTENT_TYPE, headers=headers)


def read_json_body(request: HttpRequest, max_bytes: int | None = None) -> dict[str, Any]:
    """The request body as a JSON object, within the size cap, gunzipped when the agent compressed it."""
    limit = max_bytes or settings.FLEETSITE_AGENT_MAX_BODY
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise AgentError("invalid Content-Length") from exc
    if declared > limit:
        raise AgentError(f"request body exceeds {limit} bytes", status=413)
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise AgentError(f"request body exceeds {limit} bytes", status=413)
    if request.META.get("HTTP_CONTENT_ENCODING", "").lower() == "gzip" or raw[:2] == b"\x1f\x8b":
        raw = _gunzip(raw, limit)
    if not raw.strip():
        raise AgentError("empty request body; expected a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise AgentError(f"request body is not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise AgentError("request body must be a JSON object")
    return body


def _gunzip(raw: bytes, limit: int) -> bytes:
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise AgentError(f"request body is not valid gzip: {exc}") from exc
    if len(data) > limit or decompressor.unconsumed_tail:
        raise AgentError(f"decompressed request body exceeds {limit} bytes", status=413)
    return data


def require_str(body: dict[str, Any], key: str, *, allow_empty: bool = True) -> str:
    """A string field of the body; a wrong type is the agent's error, not ours."""
    value = body.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise AgentError(f"{key} must be a string")
    if not allow_empty and not value:
        raise AgentError(f"{key} is required")
    return value


# No key Fleetsite issues or accepts is longer; a longer one is garbage, not a wrong key.
MAX_KEY_LENGTH = 255


def require_identifier(body: dict[str, Any], key: str, model: type[Model], field: str) -> str:
    """A string the server stores or looks up as sent (`model.field`): refused, not cut, when it does not fit."""
    value = require_str(body, key)
    if not bounds.fits(model, field, value):
        limit = model._meta.get_field(field).max_length
        raise AgentError(f"{key} must be at most {limit} characters, without NUL bytes")
    return value


def check_key_length(key: str, value: str) -> None:
    """Refuse a node key or token no server could have issued, before hashing it."""
    if len(value) > MAX_KEY_LENGTH:
        raise AgentError(f"{key} must be at most {MAX_KEY_LENGTH} characters")


@method_decorator(csrf_exempt, name="dispatch")
class AgentView(View):
    """Base of agent endpoints: POST with a JSON object; subclasses implement `handle`."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        try:
            body = read_json_body(request)
            return self.handle(request, body, **kwargs)
        except AgentError as exc:
            return self.error_response(exc)

    def handle(self, request: HttpRequest, body: dict[str, Any], **kwargs: Any) -> HttpResponse:
        raise NotImplementedError

    def error_response(self, exc: AgentError) -> HttpResponse:
        raise NotImplementedError

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.error_response(AgentError(f"method {request.method} not allowed", status=405))


class OsqueryErrorMixin:
    """fleet-protocol §0.4 B: `{"error": …, "node_invalid": true}` (the flag only when true)."""

    def error_response(self, exc: AgentError) -> HttpResponse:
        body: dict[str, Any] = {"error": exc.message}
        if exc.node_invalid:
            body["node_invalid"] = True
        return json_response(body, status=exc.status)


def fleet_error_body(message: str, reason: str | None = None, name: str = "base") -> dict[str, Any]:
    """fleet-protocol §0.4 A: the REST/Orbit/Device error body."""
    return {"message": message, "errors": [{"name": name, "reason": reason or message}]}


_FLEET_MESSAGES = {400: "Bad request", 404: "Resource Not Found", 409: "Conflict", 413: "Request Entity Too Large"}


class FleetErrorMixin:
    """Orbit and device endpoints answer errors in the REST family's shape."""

    def error_response(self, exc: AgentError) -> HttpResponse:
        if exc.status == 401:
            return json_response(fleet_error_body(exc.message), status=401)
        summary = _FLEET_MESSAGES.get(exc.status, exc.message)
        return json_response(fleet_error_body(summary, exc.message), status=exc.status)
