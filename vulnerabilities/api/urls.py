from django.urls import path

from vulnerabilities.api import views

urlpatterns = [
    path("vulnerabilities", views.VulnerabilityListView.as_view(), name="vulnerabilities"),
    path("vulnerabilities/<str:cve>", views.VulnerabilityDetailView.as_view(), name="vulnerability"),
    path("os_versions", views.OSVersionListView.as_view(), name="os-versions"),
    path("os_versions/<int:os_version_id>", views.OSVersionDetailView.as_view(), name="os-version"),
]
