from django.urls import path

from hosts.api import views

urlpatterns = [
    path("hosts", views.HostListView.as_view(), name="hosts"),
    path("hosts/count", views.HostCountView.as_view(), name="hosts-count"),
    path("hosts/<int:host_id>", views.HostDetailView.as_view(), name="host"),
    path("hosts/<int:host_id>/refetch", views.HostRefetchView.as_view(), name="host-refetch"),
    path("labels", views.LabelListView.as_view(), name="labels"),
    path("labels/<int:label_id>/hosts", views.LabelHostsView.as_view(), name="label-hosts"),
]
