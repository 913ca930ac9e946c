"""The fleetd (orbit) API (fleet-protocol §2): enroll, config, device token, ping."""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from enrollment import enroll as enrollment
from enrollment import secrets
from enrollment.agent.base import (
    AgentError,
    AgentView,
    AuthFailed,
    AuthRequired,
    FleetErrorMixin,
    check_key_length,
    json_response,
    require_identifier,
    require_str,
)
from enrollment.models import EnrollSecret
from fleetsite import agent_options
from fleetsite.lib.db import atomic_with_retry
from fleetsite.lib.tokens import digest
from fleetsite.metrics import record_checkin
from hosts import device_mapping
from hosts.choices import DeviceMappingSource
from hosts.lookup import host_by_key
from hosts.models import Host, HostDeviceMapping
from software_installers.queue import notifications

# Server capabilities announced to fleetd; it adapts its behaviour to them.
CAPABILITIES = "orbit_endpoints,token_rotation"
CAPABILITIES_HEADER = "X-Fleet-Capabilities"

# §2.4: the token travels in URL paths, so it must survive them unescaped.
_URL_SAFE = re.compile(r"^[A-Za-z0-9._~-]+$")

# Orbit extension platforms are named after the OS family.
_EXTENSION_PLATFORM = {"darwin": "macos", "windows": "windows"}


class OrbitView(FleetErrorMixin, AgentView):
    endpoint = ""


def authenticate_orbit(body: dict[str, Any]) -> Host:
    """§2.3: an unknown or empty orbit key is 401 Authentication required. Orbit does not bump seen time."""
    key = body.get("orbit_node_key")
    if not isinstance(key, str) or not key:
        raise AuthRequired()
    check_key_length("orbit_node_key", key)
    host = host_by_key("orbit_node_key_digest", digest(key))
    if host is None:
        raise AuthRequired()
    return host


class OrbitEnrollView(OrbitView):
    endpoint = "orbit_enroll"

    def handle(self, request: HttpRequest, body: dict[str, Any], **kwargs: Any) -> HttpResponse:
        fields = {
            name: require_identifier(body, name, model, column)
            for name, model, column in (
                ("enroll_secret", EnrollSecret, "secret"),
                ("hardware_uuid", Host, "uuid"),
                ("hardware_serial", Host, "hardware_serial"),
                ("osquery_identifier", Host, "osquery_host_id"),
            )
        }
        # Descriptive fields are stored fitted to their columns, like detail-query values.
        fields.update(
            (name, require_str(body, name))
            for name in ("hostname", "platform", "computer_name", "hardware_model", "platform_like")
        )
        secret = secrets.find(fields["enroll_secret"])
        if secret is None:
            raise AuthFailed()
        if not fields["hardware_uuid"]:
            raise AgentError("hardware_uuid is required", status=400)
        enrolled = enrollment.enroll_orbit(secret, fields)
        record_checkin(self.endpoint)
        return json_response({"orbit_node_key": enrolled.node_key}, headers={CAPABILITIES_HEADER: CAPABILITIES})


def orbit_config(host: Host) -> dict[str, Any]:
    """§2.2: OrbitConfig; `notifications` is always present, the rest only when configured."""
    options = agent_options.effective(host.team_id)
    # The head of the host's queue: a script or a software install (software_installers/queue.py).
    config: dict[str, Any] = {"notifications": notifications(host)}
    timeout = options.get("script_execution_timeout")
    if timeout:
        config["script_execution_timeout"] = timeout
    if options.get("command_line_flags"):
        config["command_line_startup_flags"] = options["command_line_flags"]
    extensions = options.get("extensions")
    if isinstance(extensions, dict):
        platform = _EXTENSION_PLATFORM.get(host.platform, "linux")
        mine = {
            name: spec
            for name, spec in extensions.items()
            if isinstance(spec, dict) and spec.get("platform", platform) == platform
        }
        if mine:
            config["extensions"] = mine
    if options.get("update_channels"):
        config["update_channels"] = options["update_channels"]
    return config


class OrbitConfigView(OrbitView):
    endpoint = "orbit_config"

    def handle(self, request: HttpRequest, body: dict[str, Any], **kwargs: Any) -> HttpResponse:
        host = authenticate_orbit(body)
        record_checkin(self.endpoint)
        return json_response(orbit_config(host))


class DeviceTokenView(OrbitView):
    endpoint = "orbit_device_token"

    def handle(self, request: HttpRequest, body: dict[str, Any], **kwargs: Any) -> HttpResponse:
        host = authenticate_orbit(body)
        token = require_str(body, "device_auth_token")
        if not token or not _URL_SAFE.match(token) or len(token) > 255:
            raise AgentError("device_auth_token must be a non-empty URL-safe string")
        try:
            # Every fleetd of a fleet sends its token at start: concurrent changes to the unique
            # token index can deadlock on MySQL, and the victim is simply run again.
            atomic_with_retry(
                lambda: Host.objects.filter(pk=host.pk).update(
                    device_token_digest=digest(token), device_token_updated_at=timezone.now()
                )
            )
        except IntegrityError as exc:
            raise AgentError("device_auth_token belongs to another host", status=409) from exc
        record_checkin(self.endpoint)
        return json_response({})


class OrbitDeviceMappingView(OrbitView):
    """`PUT /api/fleet/orbit/device_mapping`: the e-mail given at install becomes the host's custom e-mail."""

    endpoint = "orbit_device_mapping"
    http_method_names = ["put"]

    def put(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        return self.post(request, **kwargs)

    def handle(self, request: HttpRequest, body: dict[str, Any], **kwargs: Any) -> HttpResponse:
        host = authenticate_orbit(body)
        email = require_identifier(body, "email", HostDeviceMapping, "email")
        if not email:
            raise AgentError("email is required")
        device_mapping.set_custom(host, email, DeviceMappingSource.CUSTOM_INSTALLER)
        record_checkin(self.endpoint)
        return json_response({})


@method_decorator(csrf_exempt, name="dispatch")
class PingView(View):
    """`HEAD|GET /api/fleet/orbit/ping` and `/api/fleet/device/ping`: liveness plus capabilities."""

    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest) -> HttpResponse:
        response = HttpResponse(status=200)
        response[CAPABILITIES_HEADER] = CAPABILITIES
        return response
