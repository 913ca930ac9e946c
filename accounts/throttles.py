"""Login rate limits per client address and per email (fleet-protocol §4.1: 10 a minute).

The counts live in the shared cache; while Redis is down they are not kept: logins are let
through rather than refused, the login failure delay still applies.
"""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from fleetsite.lib import sharedcache


class LoginIPThrottle(SimpleRateThrottle):
    scope = "login_ip"
    cache = sharedcache.degrading

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": getattr(request, "client_ip", "") or "unknown"}


class LoginEmailThrottle(SimpleRateThrottle):
    scope = "login_email"
    cache = sharedcache.degrading

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        email = request.data.get("email") if isinstance(request.data, dict) else None
        if not isinstance(email, str) or not email:
            return None
        return self.cache_format % {"scope": self.scope, "ident": email.strip().lower()}
