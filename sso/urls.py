"""Fleet's SSO API routes (mounted on /api/v1/fleet/ only, as Fleet does) and the browser routes."""

from django.urls import path

from sso import settings_views, views

# fleetsite/urls.py mounts these under /api/v1/fleet/.
api_patterns = [
    path("sso", views.SSOView.as_view(), name="sso"),
    path("sso/callback", views.acs, name="sso-callback"),
]

urlpatterns = [
    path("sso/saml/start/", views.saml_start, name="sso-saml-start"),
    path("sso/saml/metadata/", views.saml_metadata, name="sso-saml-metadata"),
    path("sso/oidc/start/", views.oidc_start, name="sso-oidc-start"),
    path("sso/oidc/callback/", views.oidc_callback, name="sso-oidc-callback"),
    path("settings/sso/", settings_views.sso_settings, name="ui-sso-settings"),
]
