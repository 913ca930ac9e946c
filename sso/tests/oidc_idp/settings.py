"""Settings of the loopback OIDC provider project (not Fleetsite's): everything comes from `serve.py`'s environment.

`OIDC_IDP_DIR` holds the SQLite file and the RSA key; `OIDC_IDP_ISSUER` is the provider's issuer,
`http://127.0.0.1:<port>/o` (the loopback port is only known once bound); `OIDC_IDP_ADMIN_TOKEN` guards the test helper.
"""

from __future__ import annotations

import os
from pathlib import Path

DIRECTORY = Path(os.environ["OIDC_IDP_DIR"])
ISSUER = os.environ["OIDC_IDP_ISSUER"]
OIDC_IDP_ADMIN_TOKEN = os.environ["OIDC_IDP_ADMIN_TOKEN"]

SECRET_KEY = os.environ["OIDC_IDP_ADMIN_TOKEN"] + "-provider-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
ROOT_URLCONF = "sso.tests.oidc_idp.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oauth2_provider",
    "sso.tests.oidc_idp.apps.OidcIdpConfig",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(DIRECTORY / "provider.sqlite3")}}
# Browsers keep cookies per host, not per port: Fleetsite on another 127.0.0.1 port must not see these.
SESSION_COOKIE_NAME = "oidc_idp_session"
CSRF_COOKIE_NAME = "oidc_idp_csrftoken"
LOGIN_URL = "/accounts/login/"
# Signing in at the provider directly (not from an authorize request) lands on a page it has.
LOGIN_REDIRECT_URL = "/o/.well-known/openid-configuration"
# Test-speed hashing: the provider's passwords are throwaway.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": (DIRECTORY / "oidc-rsa.pem").read_text(),
    "OIDC_ISS_ENDPOINT": ISSUER,
    "PKCE_REQUIRED": True,
    "SCOPES": {"openid": "OpenID Connect", "email": "Email address", "profile": "Name"},
    "DEFAULT_SCOPES": ["openid"],
    "OAUTH2_VALIDATOR_CLASS": "sso.tests.oidc_idp.validators.ClaimsValidator",
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
