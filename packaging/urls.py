"""Packaging routes: the TUF repository (read-only), the packager service API and the UI pages.

`packager_patterns` is all a stand-alone packager service (FLEETSITE_MODE=packager) mounts.
"""

from django.urls import URLPattern, URLResolver

packager_patterns: list[URLPattern | URLResolver] = []
urlpatterns: list[URLPattern | URLResolver] = [*packager_patterns]
