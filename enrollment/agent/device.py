"""The My Device API for Fleet Desktop (fleet-protocol §3), authenticated by the device token."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from enrollment.agent.base import AgentError, AuthRequired, FleetErrorMixin, json_response
from fleetsite.lib.tokens import digest
from fleetsite.metrics import record_checkin
from fleetsite.models import FleetConfig
from hosts.api.serializers import host_detail
from hosts.models import Host

TRANSPARENCY_URL = "https://fleetdm.com/transparency"


def authenticate_device(token: str) -> Host:
    """The host whose device token this is, if it was rotated within the TTL (an hour by default)."""
    if not token:
        raise AuthRequired()
    host = next(iter(Host.objects.select_related("team").filter(device_token_digest=digest(token))[:1]), None)
    if host is None or host.device_token_updated_at is None:
        raise AuthRequired()
    if host.device_token_updated_at < timezone.now() - settings.FLEETSITE_DEVICE_TOKEN_TTL:
        raise AuthRequired()
    return host


@method_decorator(csrf_exempt, name="dispatch")
class DeviceView(FleetErrorMixin, View):
    """Base of `/api/<version>/fleet/device/<token>/...` routes."""

    http_method_names = ["get", "head", "post"]
    endpoint = "device"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            host = authenticate_device(kwargs.pop("token", ""))
            handler = getattr(self, request.method.lower(), None) if request.method else None
            if handler is None:
                raise AgentError(f"method {request.method} not allowed", status=405)
            record_checkin(self.endpoint)
            return handler(request, host)
        except AgentError as exc:
            return self.error_response(exc)


class DeviceHostView(DeviceView):
    endpoint = "device_host"

    def get(self, request: HttpRequest, host: Host) -> HttpResponse:
        config = FleetConfig.load()
        include_software = request.GET.get("exclude_software", "").lower() != "true"
        return json_response(
            {
                "host": {**host_detail(host, timezone.now(), include_software), "dep_assigned_to_fleet": False},
                "self_service": False,
                "org_logo_url": config.org_logo_url,
                "org_logo_url_light_background": config.org_logo_url,
                "org_contact_url": config.contact_url,
                "license": {"tier": "free"},
                "global_config": {
                    "mdm": {"enabled_and_configured": False},
                    "features": {"enable_software_inventory": config.features.get("enable_software_inventory", True)},
                },
            }
        )


class DevicePingView(DeviceView):
    endpoint = "device_ping"

    def get(self, request: HttpRequest, host: Host) -> HttpResponse:
        return HttpResponse(status=200)

    head = get


class DeviceRefetchView(DeviceView):
    endpoint = "device_refetch"

    def post(self, request: HttpRequest, host: Host) -> HttpResponse:
        Host.objects.filter(pk=host.pk).update(refetch_requested=True)
        return json_response({})


class DeviceDesktopView(DeviceView):
    """The Fleet Desktop tray summary; policies arrive with the queries work, so none fail yet."""

    endpoint = "device_desktop"

    def get(self, request: HttpRequest, host: Host) -> HttpResponse:
        config = FleetConfig.load()
        return json_response(
            {
                "failing_policies_count": 0,
                "self_service": False,
                "notifications": {"needs_mdm_migration": False, "renew_enrollment_profile": False},
                "config": {
                    "org_info": {"org_name": config.org_name, "org_logo_url": config.org_logo_url},
                    "mdm": {"enabled_and_configured": False},
                },
            }
        )


class DeviceTransparencyView(DeviceView):
    endpoint = "device_transparency"

    def get(self, request: HttpRequest, host: Host) -> HttpResponse:
        response = HttpResponseRedirect(TRANSPARENCY_URL)
        response.status_code = 307
        return response
