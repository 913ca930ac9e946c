"""`GET/PATCH /config`: the app config in Fleet's shape (fleet-protocol §4.9)."""

from __future__ import annotations

import base64

from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.teams import invalid
from accounts.permissions import Action, Kind
from accounts.services import InvalidInput
from fleetsite import appconfig, servercert
from fleetsite.api.errors import bad_request, not_found
from fleetsite.api.schema import envelope
from fleetsite.api.views import FleetAPIView, flag
from webhooks import config as automations

# The top-level sections of Fleet's app config (appconfig.config_json); each stays free-form.
APP_CONFIG = envelope(
    "AppConfig",
    **{
        name: serializers.DictField()
        for name in (
            "org_info",
            "server_settings",
            "features",
            "host_expiry_settings",
            "webhook_settings",
            "integrations",
            "mdm",
            "license",
            "logging",
            "update_interval",
            "vulnerabilities",
            "fleet_desktop",
            "sso_settings",
            "smtp_settings",
        )
    },  # fmt: skip
    agent_options=serializers.DictField(required=False, allow_null=True),
)


@extend_schema_view(
    get=extend_schema(summary="The app config", responses={200: APP_CONFIG}),
    patch=extend_schema(
        summary="Change part of the app config (org_info, server_settings, features, agent_options, webhook_settings, "
        "integrations)",
        request=dict,
        responses={200: APP_CONFIG},
    ),
)
class ConfigView(FleetAPIView):
    def get(self, request: Request) -> Response:
        return Response(appconfig.config_json(request.user))

    def patch(self, request: Request) -> Response:
        self.require(request, Action.WRITE, Kind.CONFIG)
        if not isinstance(request.data, dict):
            raise bad_request("the body must be a JSON object")
        try:
            with transaction.atomic():
                appconfig.update_config(request.user, request.data, force=flag(request, "force"))
                # A dry run checks everything the real change would, then undoes it (activities included).
                transaction.set_rollback(flag(request, "dry_run"))
        except automations.BadInput as exc:
            raise bad_request(exc.reason) from exc
        except InvalidInput as exc:
            raise invalid(exc) from exc
        return Response(appconfig.config_json(request.user))


@extend_schema(
    summary="The TLS certificate chain agents must trust (fleetctl get certificate)",
    responses={200: envelope("CertificateChain", certificate_chain=serializers.CharField())},
)
class CertificateView(FleetAPIView):
    """Fleet's `GET /config/certificate`: the chain as base64 of its PEM text (Go's []byte in JSON)."""

    def get(self, request: Request) -> Response:
        chain = servercert.certificate_chain()
        if chain is None:
            raise not_found("no TLS certificate: serve with --tls, or set FLEETSITE_SERVER_URL to the https URL")
        return Response({"certificate_chain": base64.b64encode(chain).decode("ascii")})
