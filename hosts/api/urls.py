from django.urls import path

from hosts.api import device_mapping, host_extras, software, views

urlpatterns = [
    path("hosts", views.HostListView.as_view(), name="hosts"),
    path("hosts/count", views.HostCountView.as_view(), name="hosts-count"),
    path("hosts/report", views.HostReportView.as_view(), name="hosts-report"),
    path("hosts/delete", views.HostBulkDeleteView.as_view(), name="hosts-delete"),
    path("hosts/transfer", views.HostTransferView.as_view(), name="hosts-transfer"),
    path("hosts/transfer/filter", views.HostTransferByFilterView.as_view(), name="hosts-transfer-filter"),
    path("hosts/identifier/<str:identifier>", views.HostByIdentifierView.as_view(), name="host-by-identifier"),
    path("hosts/<int:host_id>", views.HostDetailView.as_view(), name="host"),
    path("hosts/<int:host_id>/refetch", views.HostRefetchView.as_view(), name="host-refetch"),
    path(
        "hosts/<int:host_id>/device_mapping", device_mapping.HostDeviceMappingView.as_view(), name="host-device-mapping"
    ),
    path(
        "hosts/<int:host_id>/device_mapping/idp",
        device_mapping.HostDeviceMappingIdPView.as_view(),
        name="host-device-mapping-idp",
    ),
    path("hosts/<int:host_id>/activities", views.HostActivitiesView.as_view(), name="host-activities"),
    path("hosts/search", host_extras.HostSearchView.as_view(), name="hosts-search"),
    path("hosts/summary/mdm", host_extras.HostsMDMSummaryView.as_view(), name="hosts-summary-mdm"),
    path("hosts/<int:host_id>/health", host_extras.HostHealthView.as_view(), name="host-health"),
    path("hosts/<int:host_id>/labels", host_extras.HostLabelsView.as_view(), name="host-labels"),
    path("hosts/<int:host_id>/certificates", host_extras.HostCertificatesView.as_view(), name="host-certificates"),
    path("hosts/<int:host_id>/macadmins", host_extras.HostMacadminsView.as_view(), name="host-macadmins"),
    path("hosts/<int:host_id>/mdm", host_extras.HostMDMView.as_view(), name="host-mdm"),
    path("macadmins", host_extras.MacadminsView.as_view(), name="macadmins"),
    path("host_summary", views.HostSummaryView.as_view(), name="host-summary"),
    path("software", software.SoftwareListView.as_view(), name="software"),
    path("software/count", software.SoftwareCountView.as_view(), name="software-count"),
    path("software/<int:version_id>", software.VersionDetailView.as_view(), name="software-legacy"),
    path("software/titles", software.TitleListView.as_view(), name="software-titles"),
    path("software/titles/<int:title_id>", software.TitleDetailView.as_view(), name="software-title"),
    path("software/versions", software.VersionListView.as_view(), name="software-versions"),
    path("software/versions/<int:version_id>", software.VersionDetailView.as_view(), name="software-version"),
    path("labels", views.LabelListView.as_view(), name="labels"),
    path("labels/<int:label_id>/hosts", views.LabelHostsView.as_view(), name="label-hosts"),
]
