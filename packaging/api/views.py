"""The packager REST API (seed 003): POST create, GET status, GET download/{package_id}.

Field names are the seed's, dashes included. Bad input answers in Fleet's error shape: 400 for
a malformed body, 422 naming the field for a value the packager refuses.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle

from accounts import permissions
from fleetsite.api.errors import FleetAPIError, bad_request, forbidden, not_found, validation_failed
from fleetsite.api.schema import envelope
from fleetsite.api.views import FleetAPIView
from packaging.constants import PACKAGE_TYPES
from packaging.exceptions import PackagingError
from packaging.models import PackageBuild
from packaging.options import PackageOptions
from packaging.service import request_build, state_of

# Request field -> PackageOptions attribute, with the JSON type each must have.
FIELDS: dict[str, tuple[str, type]] = {
    "type": ("type", str),
    "fleet_url": ("fleet_url", str),
    "enroll_secret": ("enroll_secret", str),
    "fleet-certificate": ("fleet_certificate", str),
    "insecure": ("insecure", bool),
    "orbit-channel": ("orbit_channel", str),
    "osqueryd-channel": ("osqueryd_channel", str),
    "desktop-channel": ("desktop_channel", str),
    "disable-updates": ("disable_updates", bool),
    "debug": ("debug", bool),
    "fleet-desktop": ("fleet_desktop", bool),
    "update-interval": ("update_interval", str),
    "osquery-flagfile": ("osquery_flagfile", str),
    "service": ("service", bool),
    "update-url": ("update_url", str),
    "update-roots": ("update_roots", str),
    # fleetctl flags the UI offers too
    "arch": ("arch", str),
    "enable-scripts": ("enable_scripts", bool),
    "host-identifier": ("host_identifier", str),
    "end-user-email": ("end_user_email", str),
}
MEDIA_TYPES = {
    "deb": "application/vnd.debian.binary-package",
    "rpm": "application/x-rpm",
    "pkg": "application/octet-stream",
    "msi": "application/x-msi",
}

_JSON_TYPES = {str: "string", bool: "boolean"}
# The create body for the OpenAPI schema: FIELDS as JSON properties, nothing else accepted.
CREATE_REQUEST = {
    "type": "object",
    "properties": {
        **{name: {"type": _JSON_TYPES[kind], "nullable": True} for name, (_, kind) in FIELDS.items()},
        "type": {"type": "string", "enum": list(PACKAGE_TYPES)},
        "retry": {"type": "boolean"},
    },
    "required": ["type"],
    "additionalProperties": False,
}
CREATED = envelope("PackageCreated", package_id=serializers.UUIDField())
BUILD_STATUS = envelope(
    "PackageStatus",
    status=serializers.CharField(),
    stage=serializers.CharField(required=False, allow_blank=True),
    download_url=serializers.URLField(required=False),
    logs=serializers.CharField(required=False, allow_blank=True),
)


def options_from_body(body: Any) -> tuple[PackageOptions, bool]:
    """The request body as options and the `retry` flag; raises Fleet's 400 for wrong shapes."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    unknown = sorted(set(body) - set(FIELDS) - {"retry"})
    if unknown:
        raise bad_request(f"unknown field {unknown[0]!r}")
    values: dict[str, Any] = {}
    for name, (attr, kind) in FIELDS.items():
        if name not in body or body[name] is None:
            continue
        if not isinstance(body[name], kind):
            raise FleetAPIError(400, "Bad request", f"{name} must be a {kind.__name__.replace('str', 'string')}", name)
        values[attr] = body[name]
    retry = body.get("retry", False)
    if not isinstance(retry, bool):
        raise FleetAPIError(400, "Bad request", "retry must be a boolean", "retry")
    return PackageOptions(**{"type": "", **values}), retry


def check_secret(request: Request, secret: str) -> None:
    """Mounted in the main server, only this server's enroll secrets may be packaged (by whoever may see them)."""
    if settings.FLEETSITE_MODE == "packager":
        return
    from enrollment.secrets import find

    found = find(secret) if secret else None
    if found is None:
        raise validation_failed("enroll_secret", "enroll_secret is not an enroll secret of this server")
    user = request.user
    if getattr(user, "is_authenticated", False) and not permissions.can_manage_team_secrets(user, found.team_id):
        raise forbidden()


class CreateThrottle(SimpleRateThrottle):
    """`create` per client IP (fleetsite.middleware sets request.client_ip)."""

    scope = "packager_create"

    def get_rate(self) -> str:
        return settings.PACKAGER_RATE_CREATE

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": getattr(request, "client_ip", "") or "unknown"}


class PackageThrottle(SimpleRateThrottle):
    """`status` and `download` per package id, so polling one build cannot starve another."""

    scope = "packager_status"
    setting = "PACKAGER_RATE_STATUS"

    def get_rate(self) -> str:
        return getattr(settings, self.setting)

    def get_cache_key(self, request: Request, view: Any) -> str:
        ident = view.kwargs.get("package_id") or request.query_params.get("package_id", "")
        return self.cache_format % {"scope": self.scope, "ident": str(ident)[:64] or "none"}


class DownloadThrottle(PackageThrottle):
    scope = "packager_download"
    setting = "PACKAGER_RATE_DOWNLOAD"


def _build(package_id: str) -> PackageBuild:
    try:
        value = uuid.UUID(str(package_id))
    except ValueError as exc:
        raise FleetAPIError(400, "Bad request", "package_id must be a UUID", "package_id") from exc
    build = PackageBuild.objects.filter(package_id=value).first()
    if build is None:
        raise not_found("no package with this package_id")
    return build


class CreateView(FleetAPIView):
    """POST /api/packager/create: start (or find) a build; answers `{"package_id": …}`."""

    permission_classes = [AllowAny]
    throttle_classes = [CreateThrottle]

    @extend_schema(
        summary="Start (or find) an installer build",
        request={"application/json": CREATE_REQUEST},
        responses={200: CREATED},
    )
    def post(self, request: Request) -> Response:
        options, retry = options_from_body(request.data)
        check_secret(request, options.enroll_secret)
        try:
            build, _ = request_build(options, retry, request.user, getattr(request, "client_ip", ""))
        except PackagingError as exc:
            raise validation_failed(exc.field, exc.message) from exc
        return Response({"package_id": str(build.package_id)})


class StatusView(FleetAPIView):
    """GET /api/packager/status?package_id=: status, plus stage, download_url or logs."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [PackageThrottle]

    @extend_schema(
        summary="An installer build's status",
        parameters=[OpenApiParameter("package_id", OpenApiTypes.UUID, OpenApiParameter.QUERY, required=True)],
        responses={200: BUILD_STATUS},
    )
    def get(self, request: Request) -> Response:
        package_id = request.query_params.get("package_id", "")
        if not package_id:
            raise FleetAPIError(400, "Bad request", "package_id is required", "package_id")
        build = _build(package_id)
        url = request.build_absolute_uri(f"/api/packager/download/{build.package_id}")
        return Response(state_of(build).as_json(url))


class DownloadView(FleetAPIView):
    """GET /api/packager/download/{package_id}: the installer, streamed; the id is the credential."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [DownloadThrottle]

    @extend_schema(
        summary="Download a built installer",
        parameters=[OpenApiParameter("package_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        responses={
            **{(200, media_type): OpenApiTypes.BINARY for media_type in sorted(set(MEDIA_TYPES.values()))},
            304: OpenApiResponse(description="Not modified: the If-None-Match ETag is the installer's"),
        },
    )
    def get(self, request: Request, package_id: str) -> HttpResponse:
        build = _build(package_id)
        state = state_of(build)
        if state.path is None:
            raise not_found(f"package is not available ({state.status})")
        etag = f'"{build.sha256}"'
        if request.headers.get("If-None-Match") == etag:
            return HttpResponse(status=304, headers={"ETag": etag})
        response = FileResponse(
            state.path.open("rb"),
            as_attachment=True,
            filename=build.filename,
            content_type=MEDIA_TYPES.get(build.package_type, "application/octet-stream"),
        )
        response["ETag"] = etag
        response["Cache-Control"] = "private, no-store"
        return response
