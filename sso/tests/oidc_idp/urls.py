"""The provider's routes: DOT under /o/ (discovery, JWKS, authorize, token), Django's login form, the test helper."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import include, path

from sso.tests.oidc_idp import views

urlpatterns = [
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("test/user", views.set_user),
]
