"""Fleet routes Fleetsite deliberately does not build, answered with Fleet's own "not available" errors.

A client that calls one gets what a Fleet server without that feature answers, not a bare 404
that reads like a wrong URL: Premium integrations get `fleet.ErrMissingLicense` (402), host
lock/unlock/wipe `fleet.ErrMDMNotConfigured` (400), policy autofill Fleet's "AI features are
disabled" (400, since it would send SQL to fleetdm.com), Fleet-maintained apps a 400 pointing to
the package upload. Every view here is marked `fleet_route_refused`, so `manage.py fleet_routes`
lists its routes as *refused* (fleetsite/fleet_routes.py).

Routes Fleet authenticates still ask for a user first (401 without one), and host actions still
look the host up through the permission layer (404 for a host you cannot see, 403 if you may
not act on it), so a refusal never tells more than the real route would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions
from fleetsite.api.errors import FleetAPIError, forbidden
from fleetsite.api.views import FleetAPIView

# Fleet's texts (server/fleet/errors.go, server/service/sessions.go).
MISSING_LICENSE = "Requires Fleet Premium license"
MDM_NOT_CONFIGURED = (
    "MDM features aren't turned on in Fleet. For more information about setting up MDM, please visit "
    "https://fleetdm.com/docs/using-fleet"
)
AI_FEATURES_DISABLED = "AI features are disabled (server_settings.ai_features_disabled)"
# Fleet's own wording does not apply: Fleet downloads this catalog from fleetdm.com at run time.
NO_MAINTAINED_APPS = (
    "Fleet-maintained apps come from Fleet's online catalog, which Fleetsite does not download. "
    "Upload the installer instead (POST /api/latest/fleet/software/package)."
)


def missing_license() -> FleetAPIError:
    return FleetAPIError(402, MISSING_LICENSE)


def mdm_not_configured() -> FleetAPIError:
    return FleetAPIError(400, MDM_NOT_CONFIGURED)


def ai_features_disabled() -> FleetAPIError:
    return FleetAPIError(400, AI_FEATURES_DISABLED)


def no_maintained_apps() -> FleetAPIError:
    return FleetAPIError(400, NO_MAINTAINED_APPS)


class RefusedView(FleetAPIView):
    """Answers every method it defines with `error()`; authenticated unless `public`."""

    fleet_route_refused = True
    schema = None  # not part of the API we document
    error: Callable[[], FleetAPIError] = staticmethod(missing_license)

    def refuse(self, request: Request, **kwargs: Any) -> Response:
        raise self.error()


class PublicRefusedView(RefusedView):
    """For routes Fleet serves without a user (webhooks called by other services, public certs)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


class HostActionRefusedView(RefusedView):
    """Host lock/unlock/wipe: the host must be visible (else 404) and writable (else 403) first."""

    error = staticmethod(mdm_not_configured)

    def refuse(self, request: Request, **kwargs: Any) -> Response:
        from hosts.api.views import get_visible_host

        host = get_visible_host(request, kwargs["host_id"])
        if not permissions.can_write_team(request.user, host.team_id):
            raise forbidden()
        raise self.error()


def refused(base: type[RefusedView], *methods: str, error: Callable[[], FleetAPIError] | None = None) -> Any:
    """A view of `base` that refuses `methods` (lower-case HTTP method names) with `error`."""
    attrs: dict[str, Any] = {method: base.refuse for method in methods}
    if error is not None:
        attrs["error"] = staticmethod(error)
    name = f"Refused{base.__name__}{''.join(m.title() for m in methods)}"
    return type(name, (base,), attrs).as_view()


# Mounted under every REST version (fleetsite/urls.py), like the routes Fleet registers there.
urlpatterns = [
    # SCIM and conditional access are Premium identity integrations we do not provide.
    path("scim/details", refused(RefusedView, "get")),
    path("conditional-access/microsoft", refused(RefusedView, "post", "delete")),
    path("conditional-access/microsoft/confirm", refused(RefusedView, "post")),
    path("conditional_access/idp/signing_cert", refused(PublicRefusedView, "get")),
    # Google Calendar calls this with an event's changes; there is no calendar integration here.
    path("calendar/webhook/<str:event_uuid>", refused(PublicRefusedView, "post")),
    path("device/<str:token>/bypass_conditional_access", refused(PublicRefusedView, "post")),
    # macOS lock and wipe are MDM commands; Fleetsite has no MDM.
    path("hosts/<int:host_id>/lock", refused(HostActionRefusedView, "post")),
    path("hosts/<int:host_id>/unlock", refused(HostActionRefusedView, "post")),
    path("hosts/<int:host_id>/wipe", refused(HostActionRefusedView, "post")),
    # Fleet sends the policy's SQL to an AI service on fleetdm.com: a self-hosted server sends nothing out.
    path("autofill/policy", refused(RefusedView, "post", error=ai_features_disabled)),
    path("software/fleet_maintained_apps", refused(RefusedView, "get", "post", error=no_maintained_apps)),
    path("software/fleet_maintained_apps/<int:app_id>", refused(RefusedView, "get", error=no_maintained_apps)),
]
