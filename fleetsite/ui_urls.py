"""The admin UI: every page people use in a browser, mounted once from fleetsite/urls.py."""

from django.urls import include, path

from fleetsite.views import add_hosts, apiref, dashboard, settings

urlpatterns = [
    path("", dashboard.dashboard, name="ui-dashboard"),
    path("", include("accounts.urls")),
    # Before hosts.urls: its hosts/<id>/<action>/ would take the host page's scripts and activities blocks.
    path("", include("scripts.urls")),
    path("", include("software_installers.urls")),
    path("", include("hosts.urls")),
    path("", include("vulnerabilities.urls")),
    path("", include("activities.urls")),
    path("hosts/add/", add_hosts.add_hosts, name="ui-add-hosts"),
    path("hosts/add/fleet.pem", add_hosts.certificate_pem, name="ui-add-hosts-certificate"),
    path("settings/", settings.org_settings, name="ui-settings"),
    path("settings/agent-options/", settings.agent_options, name="ui-agent-options"),
    path("settings/secrets/", settings.global_secrets, name="ui-secrets"),
    path("api/reference/", apiref.api_reference, name="ui-api-reference"),
]
