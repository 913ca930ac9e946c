"""Routes: agent endpoints, the REST API under every version, health, metrics, docs, admin."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView

from accounts.api.setup import SetupView
from fleetsite import health
from fleetsite.api.aliases import with_route_aliases
from fleetsite.views import apidocs
from sso.urls import api_patterns as sso_api_patterns

rest_patterns = with_route_aliases(
    [
        *include("accounts.api.urls")[0].urlpatterns,
        *include("hosts.api.urls")[0].urlpatterns,
        *include("enrollment.api.urls")[0].urlpatterns,
        *include("carves.api.urls")[0].urlpatterns,
        *include("scripts.api.urls")[0].urlpatterns,
        *include("vulnerabilities.api.urls")[0].urlpatterns,
        *include("variables.api.urls")[0].urlpatterns,
        *include("software_installers.api.urls")[0].urlpatterns,
        *include("activities.api.urls")[0].urlpatterns,
        *include("fleetsite.api.urls")[0].urlpatterns,
        *include("queries.api.live_urls")[0].urlpatterns,
        *include("queries.api.policy_urls")[0].urlpatterns,
        *include("queries.api.urls")[0].urlpatterns,
        *include("fleetsite.api.refused")[0].urlpatterns,
    ]
)

urlpatterns = [
    path("", include("enrollment.agent_urls")),
    *[path(f"api/{version}/fleet/", include(rest_patterns)) for version in ("v1", "2022-04", "latest")],
    # Fleet registers the SSO routes on /api/v1/fleet/ only.
    path("api/v1/fleet/", include(sso_api_patterns)),
    path("api/v1/setup", SetupView.as_view(), name="setup"),
    path("healthz", health.healthz, name="healthz"),
    path("version", health.version, name="version"),
    path("metrics", health.metrics, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", apidocs.redoc, name="api-docs"),
    path("admin/", admin.site.urls),
    path("", include("fleetsite.ui_urls")),
    path("", include("queries.live_ui_urls")),
    path("", include("queries.urls")),
    path("", include("sso.urls")),
    path("", include("mfa.urls")),
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
]

if settings.FLEETSITE_MODE == "packager":
    # The packager service on its own (seed 003, option B): health and the packager API only.
    from packaging.urls import packager_patterns

    urlpatterns = [
        path("healthz", health.healthz, name="healthz"),
        path("version", health.version, name="version"),
        *packager_patterns,
    ]
else:
    urlpatterns.insert(-1, path("", include("packaging.urls")))

handler404 = "fleetsite.api.errors.handler404"
handler500 = "fleetsite.api.errors.handler500"
