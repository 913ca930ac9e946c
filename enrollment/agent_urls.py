"""Agent routes, mounted apart from the UI and REST API (fleet-protocol §0.1).

The osquery list is mounted at `/api/osquery/` and `/api/v1/osquery/`; orbit routes are
unversioned; device routes exist under every REST version.
"""

from django.urls import include, path

from enrollment.agent import device, orbit, osquery
from fleetsite.api.versions import versioned
from scripts import agent as scripts_agent
from software_installers import agent as installers_agent
from software_installers import device as installers_device

osquery_patterns = [
    path("enroll", osquery.EnrollView.as_view()),
    path("config", osquery.ConfigView.as_view()),
    path("log", osquery.LogView.as_view()),
    path("distributed/read", osquery.DistributedReadView.as_view()),
    path("distributed/write", osquery.DistributedWriteView.as_view()),
    path("carve/begin", osquery.CarveBeginView.as_view()),
    path("carve/block", osquery.CarveBlockView.as_view()),
    path("yara/<str:name>", osquery.YaraRuleView.as_view()),
]

orbit_patterns = [
    path("enroll", orbit.OrbitEnrollView.as_view()),
    path("config", orbit.OrbitConfigView.as_view()),
    path("device_token", orbit.DeviceTokenView.as_view()),
    path("device_mapping", orbit.OrbitDeviceMappingView.as_view()),
    path("ping", orbit.PingView.as_view()),
    path("scripts/request", scripts_agent.ScriptRequestView.as_view()),
    path("scripts/result", scripts_agent.ScriptResultView.as_view()),
    path("software_install/details", installers_agent.InstallDetailsView.as_view()),
    path("software_install/package", installers_agent.InstallPackageView.as_view()),
    path("software_install/result", installers_agent.InstallResultView.as_view()),
]

device_patterns = [
    path("<str:token>", device.DeviceHostView.as_view()),
    path("<str:token>/ping", device.DevicePingView.as_view()),
    path("<str:token>/refetch", device.DeviceRefetchView.as_view()),
    path("<str:token>/desktop", device.DeviceDesktopView.as_view()),
    path("<str:token>/transparency", device.DeviceTransparencyView.as_view()),
    path("<str:token>/device_mapping", device.DeviceMappingView.as_view()),
    path("<str:token>/policies", device.DevicePoliciesView.as_view()),
    path("<str:token>/software", device.DeviceSoftwareView.as_view()),
    path("<str:token>/software/install/<int:title_id>", installers_device.DeviceInstallView.as_view()),
    path("<str:token>/software/uninstall/<int:title_id>", installers_device.DeviceUninstallView.as_view()),
    path(
        "<str:token>/software/install/<str:install_uuid>/results",
        installers_device.DeviceInstallResultView.as_view(),
    ),
    path(
        "<str:token>/software/uninstall/<str:execution_id>/results",
        installers_device.DeviceUninstallResultView.as_view(),
    ),
    path("<str:token>/software/titles/<int:title_id>/icon", installers_device.DeviceTitleIconView.as_view()),
    path("<str:token>/macadmins", device.DeviceMacadminsView.as_view()),
    path("<str:token>/certificates", device.DeviceCertificatesView.as_view()),
    path("<str:token>/debug/errors", device.DeviceDebugErrorsView.as_view()),
]

urlpatterns = [
    path("api/osquery/", include(osquery_patterns)),
    path("api/v1/osquery/", include(osquery_patterns)),
    path("api/fleet/orbit/", include(orbit_patterns)),
    path("api/fleet/device/ping", orbit.PingView.as_view()),
    *versioned("device/", include(device_patterns)),
]
