"""fleetd's side of software installs (orbit.go): details, the package bytes, the result."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, HttpRequest, HttpResponse

from enrollment.agent.base import AgentError, json_response, require_str
from enrollment.agent.orbit import OrbitView, authenticate_orbit
from fleetsite.metrics import record_checkin
from software_installers import service, storage
from software_installers.choices import InstallStatus
from software_installers.models import SoftwareInstall

_INT_RANGE = range(-(2**31), 2**31)


def _install_uuid(body: dict[str, Any]) -> str:
    value = require_str(body, "install_uuid", allow_empty=False)
    if len(value) > 36:
        raise AgentError("install_uuid must be at most 36 characters")
    return value


def _optional_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value not in _INT_RANGE:
        raise AgentError(f"{key} must be an integer")
    return value


def _optional_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise AgentError(f"{key} must be a string")
    return value


class InstallDetailsView(OrbitView):
    """`POST /api/fleet/orbit/software_install/details`: the scripts and query of a pending install."""

    endpoint = "orbit_software_install_details"

    def handle(self, request: HttpRequest, body: dict[str, Any], **kwargs: Any) -> HttpResponse:
        host = authenticate_orbit(body)
        run = service.orbit_install(host, _install_uuid(body))
        if run is None:
            raise AgentError("software install not found", status=404)
        record_checkin(self.endpoint)
        return json_response(service.details_json(run))


class InstallPackageView(OrbitView):
    """`POST /api/fleet/orbit/software_install/package`: stream the installer a pending install of this host needs."""

    endpoint = "orbit_software_install_package"

    def handle(self, request: HttpRequest, body: dict[str, Any], **kwargs: Any) -> HttpResponse:
        host = authenticate_orbit(body)
        installer_id = _optional_int(body, "installer_id")
        if installer_id is None:
            raise AgentError("installer_id is required")
        run = (
            SoftwareInstall.objects.select_related("installer")
            .filter(host=host, installer_id=installer_id, canceled=False, status=InstallStatus.PENDING_INSTALL)
            .first()
        )
        if run is None or run.installer is None:
            raise AgentError("software installer not found", status=404)
        try:
            handle = storage.open_installer(run.installer.storage_id)
        except FileNotFoundError as exc:
            raise AgentError("software installer not found", status=404) from exc
        record_checkin(self.endpoint)
        return FileResponse(
            handle, as_attachment=True, filename=run.installer.filename, content_type="application/octet-stream"
        )


class InstallResultView(OrbitView):
    """`POST /api/fleet/orbit/software_install/result`: what fleetd ran; the host's status follows from it."""

    endpoint = "orbit_software_install_result"

    def handle(self, request: HttpRequest, body: dict[str, Any], **kwargs: Any) -> HttpResponse:
        host = authenticate_orbit(body)
        payload = {
            "install_uuid": _install_uuid(body),
            "pre_install_condition_output": _optional_str(body, "pre_install_condition_output"),
            "install_script_exit_code": _optional_int(body, "install_script_exit_code"),
            "install_script_output": _optional_str(body, "install_script_output"),
            "post_install_script_exit_code": _optional_int(body, "post_install_script_exit_code"),
            "post_install_script_output": _optional_str(body, "post_install_script_output"),
        }
        if not service.orbit_result(host, payload):
            raise AgentError("software install not found", status=404)
        record_checkin(self.endpoint)
        return HttpResponse(status=204)
