"""Admin UI routes for hosts and software, and the end user's My Device page (device token, no login)."""

from django.urls import path

from hosts.views import detail, device, software
from hosts.views import list as host_list

urlpatterns = [
    path("hosts/", host_list.host_list, name="ui-hosts"),
    path("hosts/count/", host_list.host_count, name="ui-hosts-count"),
    path("hosts/export.csv", host_list.host_export, name="ui-hosts-export"),
    path("hosts/bulk/", host_list.host_bulk, name="ui-hosts-bulk"),
    path("hosts/<int:pk>/", detail.host_detail, name="ui-host"),
    path("hosts/<int:pk>/<str:action>/", detail.host_action, name="ui-host-action"),
    path("software/", software.software_list, name="ui-software"),
    path("software/versions/", software.software_versions, name="ui-software-versions"),
    path("software/export.csv", software.software_export, name="ui-software-export"),
    # Fleet Desktop opens /device/{token} (no slash); Fleet's tabs are /device/{token}/software etc.
    path("device/<str:token>", device.device_page, name="ui-device"),
    path("device/<str:token>/refetch", device.device_refetch, name="ui-device-refetch"),
    path("device/<str:token>/install/<int:title_id>", device.device_install, name="ui-device-install"),
    path("device/<str:token>/<slug:tab>", device.device_page, name="ui-device-tab"),
]
