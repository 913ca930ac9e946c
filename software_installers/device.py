"""My Device (Fleet Desktop) self-service: install and uninstall the team's self-service packages."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from enrollment.agent.base import AgentError, json_response
from enrollment.agent.device import DeviceView
from hosts.models import Host
from scripts.models import ScriptExecution
from software_installers import service
from software_installers.api.views import icon_response
from software_installers.models import SoftwareInstall, SoftwareTitleIcon


class _RouteDeviceView(DeviceView):
    """DeviceView hands its handlers the host only; these also need the path's ids."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.route = {key: value for key, value in kwargs.items() if key != "token"}
        return super().dispatch(request, *args, **kwargs)


def _self_service_only(host: Host, title_id: int) -> None:
    installer = service.find_installer(title_id, host.team_id)
    if installer is None or not installer.self_service:
        raise AgentError("Software title is not available through self-service", status=400)


class DeviceInstallView(_RouteDeviceView):
    """`POST /device/{token}/software/install/{title_id}`: the user installs a self-service package (202)."""

    endpoint = "device_software_install"
    http_method_names = ["post"]
    uninstall = False

    def post(self, request: HttpRequest, host: Host) -> HttpResponse:
        title_id = self.route["title_id"]
        _self_service_only(host, title_id)
        action = service.uninstall if self.uninstall else service.install
        action(None, host, title_id, self_service=True)
        return json_response({}, status=202)


class DeviceUninstallView(DeviceInstallView):
    endpoint = "device_software_uninstall"
    uninstall = True


class DeviceInstallResultView(_RouteDeviceView):
    """`GET /device/{token}/software/install/{install_uuid}/results`: this host's installs only."""

    endpoint = "device_software_install_result"
    http_method_names = ["get"]

    def get(self, request: HttpRequest, host: Host) -> HttpResponse:
        run = (
            SoftwareInstall.objects.select_related("host")
            .filter(host=host, install_uuid=self.route["install_uuid"], uninstall=False)
            .first()
        )
        if run is None:
            raise AgentError("software install not found", status=404)
        return json_response({"results": service.result_json(run)})


class DeviceUninstallResultView(_RouteDeviceView):
    """`GET /device/{token}/software/uninstall/{execution_id}/results`: the uninstall script's result."""

    endpoint = "device_software_uninstall_result"
    http_method_names = ["get"]

    def get(self, request: HttpRequest, host: Host) -> HttpResponse:
        execution = ScriptExecution.objects.filter(
            host=host, execution_id=self.route["execution_id"], uninstall__isnull=False
        ).first()
        if execution is None:
            raise AgentError("software uninstall not found", status=404)
        return json_response(
            {
                "results": {
                    "script_contents": execution.contents,
                    "exit_code": execution.exit_code,
                    "output": execution.output,
                    "message": "",
                    "hostname": host.hostname,
                    "host_id": host.pk,
                    "execution_id": execution.execution_id,
                    "runtime": execution.runtime,
                    "created_at": execution.created_at.isoformat().replace("+00:00", "Z"),
                }
            }
        )


class DeviceTitleIconView(_RouteDeviceView):
    """`GET /device/{token}/software/titles/{id}/icon`: a self-service title's icon for Fleet Desktop."""

    endpoint = "device_software_icon"
    http_method_names = ["get"]

    def get(self, request: HttpRequest, host: Host) -> HttpResponse:
        title_id = self.route["title_id"]
        try:
            _self_service_only(host, title_id)
        except AgentError as exc:
            raise AgentError("icon not found", status=404) from exc
        icon = SoftwareTitleIcon.objects.filter(team_key=host.team_id or 0, title_id=title_id).first()
        if icon is None:
            raise AgentError("icon not found", status=404)
        return icon_response(icon)
