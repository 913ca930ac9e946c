"""Fleet's SSO names and texts, and our own limits."""

from __future__ import annotations

from datetime import timedelta

# Fleet's ACS path (server/service/sessions.go); Fleet registers the SSO routes on v1 only.
ACS_PATH = "/api/v1/fleet/sso/callback"
OIDC_CALLBACK_PATH = "/sso/oidc/callback/"
# Fleet's SSO session validity (config auth.sso_session_validity_period: 5 minutes).
PENDING_LOGIN_TTL = timedelta(minutes=5)
# Clock difference tolerated between the IdP and this server, in seconds.
CLOCK_SKEW_SECONDS = 120
# How long a consumed assertion id is remembered when the assertion names no expiry.
DEFAULT_ASSERTION_TTL = timedelta(hours=1)
COOKIE_NAME = "fleetsite_sso"
# The value GET /config shows instead of a secret; sending it back means "unchanged".
MASKED = "********"

# Fleet's status codes on /login?status=... (server/service/sso_errors.go).
STATUS_ERROR = "error"
STATUS_ORG_DISABLED = "org_disabled"
STATUS_ACCOUNT_DISABLED = "account_disabled"
STATUS_ACCOUNT_INVALID = "account_invalid"
SSO_NOT_CONFIGURED = "organization not configured to use sso"
# A sign-in (SSO start, SAML RelayState, the login form's `next`) that would end on another site.
OPEN_REDIRECT = (
    "This sign-in was to continue to {target}, which is not a page of this server, so it was stopped "
    "(open redirect refused): nobody is sent on to another site. Start again from the login page."
)

# Fleet's JIT role attributes (SAML attributes; OIDC claims of the same names).
ROLE_GLOBAL = "FLEET_JIT_USER_ROLE_GLOBAL"
ROLE_TEAM_PREFIX = "FLEET_JIT_USER_ROLE_TEAM_"
ROLE_NULL = "null"
# Attributes Fleet reads the display name from, in order.
NAME_ATTRIBUTES = (
    "name",
    "displayname",
    "displayName",
    "cn",
    "urn:oid:2.5.4.3",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
)
