"""Packaging routes: the TUF repository (read-only), the packager service API and the UI pages.

`packager_patterns` is all a stand-alone packager service (FLEETSITE_MODE=packager) mounts.
"""

from django.conf import settings
from django.urls import URLPattern, URLResolver, path

from packaging import tuf_views, views
from packaging.api import views as api

packager_patterns: list[URLPattern | URLResolver] = [
    path("api/packager/create", api.CreateView.as_view(), name="packager-create"),
    path("api/packager/status", api.StatusView.as_view(), name="packager-status"),
    path("api/packager/download/<str:package_id>", api.DownloadView.as_view(), name="packager-download"),
]
urlpatterns: list[URLPattern | URLResolver] = [
    *packager_patterns,
    path(f"{settings.FLEETSITE_TUF_URL_PATH.strip('/')}/<path:path>", tuf_views.tuf_file, name="tuf-file"),
    path("packages/", views.build_page, name="packaging-ui"),
    path("packages/<uuid:package_id>/status/", views.build_status, name="packaging-ui-status"),
]
