"""The My Device API for Fleet Desktop (fleet-protocol §3), authenticated by the device token."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from enrollment.agent.base import (
    AgentError,
    AuthRequired,
    FleetErrorMixin,
    fleet_error_body,
    json_response,
    read_json_body,
)
from fleetsite.api.errors import FleetAPIError
from fleetsite.api.pagination import Page, page_from
from fleetsite.lib.tokens import digest
from fleetsite.metrics import record_checkin
from fleetsite.models import FleetConfig
from hosts import device_mapping, software
from hosts.api.serializers import host_detail, host_policies
from hosts.models import Host
from software_installers import host_software

logger = logging.getLogger(__name__)

TRANSPARENCY_URL = "https://fleetdm.com/transparency"
# Fleet Desktop's error reports are capped at 5 MB (fleet-protocol §3).
DEBUG_ERRORS_MAX_BODY = 5 * 1024 * 1024
# Fleet's sort keys for a host's certificates.
CERTIFICATE_ORDER_KEYS = ("common_name", "not_valid_after")


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
        except FleetAPIError as exc:  # the REST helpers' bad input (paging, sort keys)
            return json_response(fleet_error_body(exc.message, exc.reason, exc.name), status=exc.status_code)


def _page(request: HttpRequest) -> Page:
    """Fleet's `page`/`per_page` from a plain Django request, with the REST API's rules."""
    return page_from(SimpleNamespace(query_params=request.GET))  # type: ignore[arg-type]


def _order(request: HttpRequest, keys: Any) -> tuple[str | None, str | None]:
    key, direction = request.GET.get("order_key") or None, request.GET.get("order_direction") or None
    if key is not None and key not in keys:
        raise AgentError(f"invalid order_key: one of {', '.join(keys)}")
    if direction is not None and direction not in ("asc", "desc"):
        raise AgentError("invalid order_direction: asc or desc")
    return key, direction


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


class DeviceMappingView(DeviceView):
    endpoint = "device_mapping"

    def get(self, request: HttpRequest, host: Host) -> HttpResponse:
        return json_response({"host_id": host.pk, "device_mapping": device_mapping.mapping_json(host)})


class DevicePoliciesView(DeviceView):
    """The host's policies with its answers; the same list as the host detail's `policies`."""

    endpoint = "device_policies"

    def get(self, request: HttpRequest, host: Host) -> HttpResponse:
        return json_response({"policies": host_policies(host)})


def _icon_url(request: HttpRequest) -> Any:
    """Fleet Desktop fetches a self-service title's icon under its own token."""
    base = request.path.rsplit("/software", 1)[0]
    return lambda title_id: f"{base}/software/titles/{title_id}/icon"


class DeviceSoftwareView(DeviceView):
    """The host's software by title, paged in the database, with the team's packages, install status and CVEs."""

    endpoint = "device_software"

    def get(self, request: HttpRequest, host: Host) -> HttpResponse:
        page = _page(request)
        key, direction = _order(request, software.TITLE_ORDER_KEYS)
        query = request.GET.get("query", "")
        vulnerable = request.GET.get("vulnerable", "").lower() in ("true", "1")
        if request.GET.get("self_service", "").lower() in ("true", "1"):
            # Fleet Desktop's self-service tab: the team's self-service packages, installed or not.
            rows_qs = host_software.rows(host, query, self_service=True)
            if vulnerable:
                rows_qs = rows_qs.none()  # the self-service tab is about what can be installed
        else:
            rows_qs = software.host_titles(host.pk, query, key, direction, vulnerable=vulnerable)
        rows, meta = page.slice(rows_qs)
        entries = host_software.decorate(host, software.host_title_rows(host.pk, rows), _icon_url(request))
        return json_response({"software": entries, "count": rows_qs.count(), "meta": meta})


class DeviceMacadminsView(DeviceView):
    """Munki and MDM data; none is collected yet, and Fleet answers null when a host has none."""

    endpoint = "device_macadmins"

    def get(self, request: HttpRequest, host: Host) -> HttpResponse:
        return json_response({"macadmins": None})


class DeviceCertificatesView(DeviceView):
    """The host's certificates; none are ingested yet, so an empty page in Fleet's shape."""

    endpoint = "device_certificates"

    def get(self, request: HttpRequest, host: Host) -> HttpResponse:
        page = _page(request)
        _order(request, CERTIFICATE_ORDER_KEYS)
        meta = {"has_next_results": False, "has_previous_results": page.page > 0}
        return json_response({"certificates": [], "meta": meta, "count": 0})


class DeviceDebugErrorsView(DeviceView):
    """fleetd's error reports: logged for the operator, answered `{}`."""

    endpoint = "device_debug_errors"

    def post(self, request: HttpRequest, host: Host) -> HttpResponse:
        report = read_json_body(request, DEBUG_ERRORS_MAX_BODY)
        logger.warning(
            "fleetd error report from host %s: %s %s: %s",
            host.pk,
            str(report.get("error_source", ""))[:100],
            str(report.get("error_source_version", ""))[:100],
            str(report.get("error_message", ""))[:2000],
            extra={"host_id": host.pk, "fleetd_error": report},
        )
        return json_response({})
