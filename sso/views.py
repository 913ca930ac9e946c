"""Fleet's SSO routes (`GET/POST /api/v1/fleet/sso`, the ACS `POST /api/v1/fleet/sso/callback`) and
the browser routes that start SAML or OIDC from the login page and finish OIDC.

Each sign-in either logs the browser in and redirects to the local path it started from, or
records a failed login and redirects to `/login/?status=<Fleet's code>` with the reason shown.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from fleetsite.api.errors import FleetAPIError, bad_request
from fleetsite.api.schema import envelope
from fleetsite.api.views import FleetAPIView
from fleetsite.lib.tokens import digest
from sso import constants, flow, oidc, replay, saml, users
from sso.errors import SSOError
from sso.models import SSOSettings


def _saml_enabled(row: SSOSettings) -> bool:
    return row.enable_sso and bool(row.idp_metadata()) and bool(row.entity_id)


def login_page_settings(row: SSOSettings | None = None) -> dict[str, Any]:
    """Fleet's SessionSSOSettings, plus the OIDC button's name: all the login page needs."""
    row = row or SSOSettings.load()
    return {
        "idp_name": row.idp_name,
        "idp_image_url": row.idp_image_url,
        "sso_enabled": row.enable_sso,
        "oidc_enabled": row.enable_oidc and bool(row.oidc_provider),
        "oidc_name": row.oidc_name,
    }


def _start_saml(request: HttpRequest, relay_path: str) -> tuple[HttpResponse, str]:
    row = SSOSettings.load()
    if not _saml_enabled(row):
        raise SSOError(constants.SSO_NOT_CONFIGURED, constants.STATUS_ORG_DISABLED)
    request_id, url = saml.authn_request_url(row, flow.acs_url(), relay_path)
    response = HttpResponse()
    flow.start(response, request, "saml", relay_path, request_id=request_id)
    return response, url


class InitiateSerializer(serializers.Serializer):
    relay_url = serializers.CharField(required=False, allow_blank=True, max_length=2048)


@extend_schema_view(
    get=extend_schema(
        summary="SSO settings for the login page",
        responses={200: envelope("SSOSettings", settings=serializers.DictField())},
    ),
    post=extend_schema(
        summary="Start SAML single sign-on: the IdP URL to send the browser to",
        request=InitiateSerializer,
        responses={200: envelope("SSOStart", url=serializers.CharField())},
    ),
)
class SSOView(FleetAPIView):
    """Public, as in Fleet: the login page needs these before anyone is signed in."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"settings": login_page_settings()})

    def post(self, request: Request) -> Response:
        body = InitiateSerializer(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        try:
            relay_path = flow.checked_relay(body.validated_data.get("relay_url"))
        except SSOError as exc:
            flow.record_failure(request._request, exc)
            raise bad_request("invalid sso redirect url: only a path on this server is allowed") from exc
        try:
            started, url = _start_saml(request._request, relay_path)
        except SSOError as exc:
            raise FleetAPIError(400, exc.message) from exc
        response = Response({"url": url})
        for cookie in started.cookies.values():
            response.cookies[cookie.key] = cookie
        return response


@csrf_exempt
@require_POST
def acs(request: HttpRequest) -> HttpResponse:
    """The SAML assertion consumer service (Fleet's `POST /api/v1/fleet/sso/callback`)."""
    row = SSOSettings.load()
    email = ""
    try:
        if not row.enable_sso:
            raise SSOError(constants.SSO_NOT_CONFIGURED, constants.STATUS_ORG_DISABLED)
        encoded = request.POST.get("SAMLResponse", "")
        if not encoded:
            raise SSOError("missing SAMLResponse")
        pending = flow.take(request, "saml")
        assertion = saml.verify_response(row, flow.acs_url(), encoded, pending.request_id if pending else None)
        email = assertion.email
        replay.consume(assertion.assertion_id, assertion.expires_at, email)
        # Checked once the assertion is verified (so the refusal names who) and before any account change.
        posted_relay = flow.checked_relay(request.POST.get("RelayState"))
        user = users.resolve(assertion.email, assertion.name, assertion.attributes, "saml", row)
    except SSOError as exc:
        exc.email = exc.email or email
        return flow.fail(request, exc)
    return flow.succeed(request, user, pending.relay_path if pending else posted_relay)


@require_GET
def saml_start(request: HttpRequest) -> HttpResponse:
    """The login page's IdP button: start SAML and go to the IdP."""
    try:
        relay = flow.checked_relay(request.GET.get("next"))
        started, url = _start_saml(request, relay)
    except SSOError as exc:
        return flow.fail(request, exc)
    response = HttpResponseRedirect(url)
    for cookie in started.cookies.values():
        response.cookies[cookie.key] = cookie
    return response


@require_GET
def oidc_start(request: HttpRequest) -> HttpResponse:
    row = SSOSettings.load()
    if not (row.enable_oidc and row.oidc_provider):
        return flow.fail(request, SSOError("OpenID Connect sign-in is not configured.", constants.STATUS_ORG_DISABLED))
    try:
        relay = flow.checked_relay(request.GET.get("next"))
    except SSOError as exc:
        return flow.fail(request, exc)
    started = oidc.authorization_request(row, flow.oidc_redirect_uri())
    response = HttpResponseRedirect(started.url)
    flow.start(
        response,
        request,
        "oidc",
        relay,
        state_digest=digest(started.state),
        nonce=started.nonce,
        code_verifier=started.code_verifier,
    )
    return response


@require_GET
def oidc_callback(request: HttpRequest) -> HttpResponse:
    row = SSOSettings.load()
    email = ""
    try:
        if not (row.enable_oidc and row.oidc_provider):
            raise SSOError("OpenID Connect sign-in is not configured.", constants.STATUS_ORG_DISABLED)
        if request.GET.get("error"):
            raise SSOError(
                f"The provider refused the sign-in: {request.GET.get('error_description') or request.GET['error']}"
            )
        pending = oidc.check_state(flow.take(request, "oidc"), request.GET.get("state", ""))
        identity = oidc.finish(row, pending, request.GET.get("code", ""), flow.oidc_redirect_uri())
        email = identity.email
        replay.consume(identity.token_id, identity.expires_at, email)
        user = users.resolve(identity.email, identity.name, identity.claims, "oidc", row, subject=identity.subject)
    except SSOError as exc:
        exc.email = exc.email or email
        return flow.fail(request, exc)
    return flow.succeed(request, user, pending.relay_path)


@require_GET
def saml_metadata(request: HttpRequest) -> HttpResponse:
    """Our SAML SP metadata (public, as SP metadata is): what an IdP admin imports instead of typing URLs.

    Fleet has no such route (its docs list the ACS URL and entity ID); ours sits beside the other
    browser SSO routes. 404 until an entity ID is saved.
    """
    row = SSOSettings.load()
    if not row.entity_id:
        return HttpResponse(
            "Set the SAML entity ID in Settings > Single sign-on first.\n", status=404, content_type="text/plain"
        )
    body = saml.sp_metadata(row, flow.acs_url())
    response = HttpResponse(body, content_type="application/samlmetadata+xml")
    response["Content-Disposition"] = 'inline; filename="fleetsite-sp-metadata.xml"'
    return response
