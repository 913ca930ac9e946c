"""Admin UI routes for vulnerabilities and OS versions (the REST ones are in api/urls.py)."""

from django.urls import path

from vulnerabilities import views

urlpatterns = [
    path("vulnerabilities/", views.vulnerability_list, name="ui-vulnerabilities"),
    path("vulnerabilities/<str:cve>/", views.cve_detail, name="ui-vulnerability"),
    path("os-versions/", views.os_version_list, name="ui-os-versions"),
]
