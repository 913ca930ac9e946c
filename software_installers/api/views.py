"""Software installers REST API: packages per team, installs on hosts, results, icons, one-time links."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions
from fleetsite.api.aliases import FleetJSONParser
from fleetsite.api.errors import FleetAPIError, bad_request, forbidden, not_found
from fleetsite.api.pagination import page_from
from fleetsite.api.schema import envelope
from fleetsite.api.views import FleetAPIView, flag
from hosts.api.views import get_visible_host
from scripts.api.views import team_param
from software_installers import constants as c
from software_installers import host_software, service, storage
from software_installers.models import SoftwareInstaller, SoftwareTitleIcon

TEAM_PARAM = OpenApiParameter("team_id", int, description="the team whose package this is (absent: no team)")
PACKAGE = envelope("SoftwarePackage", software_package=serializers.DictField())
MULTIPART = {
    "multipart/form-data": {
        "type": "object",
        "properties": {
            "software": {"type": "string", "format": "binary"},
            "team_id": {"type": "integer"},
            "install_script": {"type": "string"},
            "uninstall_script": {"type": "string"},
            "pre_install_query": {"type": "string"},
            "post_install_script": {"type": "string"},
            "self_service": {"type": "boolean"},
            "labels_include_any": {"type": "array", "items": {"type": "string"}},
            "labels_exclude_any": {"type": "array", "items": {"type": "string"}},
        },
    }
}
# One-time download links live this long (Fleet: 10 minutes).
TOKEN_TTL = 600
_TOKEN_KEY = "swinstaller-token:{}"


def _form_bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise bad_request(f"invalid boolean: {value!r}")


def form_fields(request: Request) -> dict[str, Any]:
    """The package form as the service takes it: absent fields are None (PATCH keeps them)."""
    data = request.data
    fields: dict[str, Any] = {}
    for key in ("install_script", "uninstall_script", "pre_install_query", "post_install_script", "name", "version"):
        value = data.get(key)
        fields[key] = value if isinstance(value, str) else None
    fields["self_service"] = _form_bool(data.get("self_service"))
    for key in ("labels_include_any", "labels_exclude_any"):
        values = data.getlist(key) if hasattr(data, "getlist") else data.get(key)
        fields[key] = [v for v in values if isinstance(v, str) and v] if key in data else None
    return fields


def form_team(request: Request) -> int | None:
    form = request.data.copy()
    if "fleet_id" in form and "team_id" not in form:
        form["team_id"] = form["fleet_id"]
    return team_param(request, form)


def check_size(upload: Any) -> None:
    """Fleet's cap on installer size (FLEETSITE_SOFTWARE_INSTALLER_MAX_BYTES), before anything is read."""
    limit = settings.FLEETSITE_SOFTWARE_INSTALLER_MAX_BYTES
    if upload.size > limit:
        raise FleetAPIError(
            413, "Request Entity Too Large", f"The maximum file size is {limit} bytes.", name="software"
        )


def download(installer: SoftwareInstaller) -> FileResponse:
    """The stored package as an attachment under its uploaded file name."""
    try:
        handle = storage.open_installer(installer.storage_id)
    except FileNotFoundError as exc:
        raise not_found(f"Installer {installer.filename} was not found in the store") from exc
    response = FileResponse(
        handle, as_attachment=True, filename=installer.filename, content_type="application/octet-stream"
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


class PackageUploadView(FleetAPIView):
    """`POST /software/package`: upload an installer for a team (multipart, Fleet's field names)."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(summary="Upload a software package", request=MULTIPART, responses={200: PACKAGE})
    def post(self, request: Request) -> Response:
        team_id = form_team(request)
        service.require_team_write(request.user, team_id)
        upload = request.FILES.get("software")
        if upload is None:
            raise bad_request("software: no file was uploaded")
        check_size(upload)
        installer = service.upload(request.user, team_id, upload, upload.name, form_fields(request))
        return Response({"software_package": service.installer_json(installer)})


class TitlePackageView(FleetAPIView):
    """`GET` (with `?alt=media`) downloads a title's package; `PATCH` edits it or replaces its file."""

    parser_classes = [MultiPartParser, FormParser, FleetJSONParser]

    @extend_schema(
        summary="Download a title's software package",
        parameters=[TEAM_PARAM, OpenApiParameter("alt", str, enum=["media"])],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    def get(self, request: Request, title_id: int) -> HttpResponse:
        installer = service.get_installer(request.user, title_id, team_param(request), "read")
        if request.query_params.get("alt") != "media":
            raise bad_request(c.ONLY_ALT_MEDIA)
        return download(installer)

    @extend_schema(summary="Edit a title's software package", request=MULTIPART, responses={200: PACKAGE})
    def patch(self, request: Request, title_id: int) -> Response:
        team_id = form_team(request) if "team_id" in request.data or "fleet_id" in request.data else team_param(request)
        installer = service.get_installer(request.user, title_id, team_id, "write")
        upload = request.FILES.get("software")
        if upload is not None:
            check_size(upload)
        fields = form_fields(request)
        if request.data.get("display_name"):
            service.rename(request.user, installer, request.data["display_name"])
        installer = service.update(request.user, installer, fields, upload, upload.name if upload else "")
        return Response({"software_package": service.installer_json(installer)})


class AvailableForInstallView(FleetAPIView):
    @extend_schema(summary="Stop offering a title's package", parameters=[TEAM_PARAM], responses={204: None})
    def delete(self, request: Request, title_id: int) -> Response:
        installer = service.get_installer(request.user, title_id, team_param(request), "write")
        service.delete(request.user, installer)
        return Response(status=204)


class PackageTokenView(FleetAPIView):
    """`POST .../package/token`: a link that downloads the package once, without credentials, for 10 minutes."""

    @extend_schema(
        summary="A one-time download token for a title's package",
        request=None,
        parameters=[TEAM_PARAM, OpenApiParameter("alt", str, enum=["media"])],
        responses={200: envelope("PackageToken", token=serializers.CharField())},
    )
    def post(self, request: Request, title_id: int) -> Response:
        installer = service.get_installer(request.user, title_id, team_param(request), "read")
        if request.query_params.get("alt") != "media":
            raise bad_request(c.ONLY_ALT_MEDIA)
        token = str(uuid.uuid4())
        cache.set(_TOKEN_KEY.format(token), {"installer_id": installer.pk, "title_id": title_id}, TOKEN_TTL)
        return Response({"token": token})


class PackageTokenDownloadView(FleetAPIView):
    """`GET .../package/token/{token}`: the token is the credential, and it works once."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Download a package with a one-time token",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    def get(self, request: Request, title_id: int, token: str) -> HttpResponse:
        key = _TOKEN_KEY.format(token)
        grant = cache.get(key) if len(token) <= 64 else None
        if grant is None or grant.get("title_id") != title_id:
            raise forbidden("invalid or expired download token")
        cache.delete(key)
        installer = SoftwareInstaller.objects.filter(pk=grant["installer_id"]).first()
        if installer is None:
            raise not_found(f"SoftwareInstaller for title {title_id} was not found in the datastore")
        return download(installer)


class TitleNameView(FleetAPIView):
    parser_classes = [FleetJSONParser, MultiPartParser, FormParser]

    @extend_schema(
        summary="Rename a title's package for a team",
        parameters=[TEAM_PARAM],
        request=inline_serializer(name="TitleName", fields={"name": serializers.CharField()}),
        responses={200: None},
    )
    def patch(self, request: Request, title_id: int) -> Response:
        installer = service.get_installer(request.user, title_id, team_param(request), "write")
        name = request.data.get("name")
        if not isinstance(name, str):
            raise FleetAPIError(422, "Validation Failed", "name must be a string", name="name")
        service.rename(request.user, installer, name)
        return Response({})


MAX_ICON_BYTES = 100 * 1024


def icon_response(icon: SoftwareTitleIcon) -> HttpResponse:
    content_type = "image/png"
    response = HttpResponse(bytes(icon.content), content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="{icon.filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


class TitleIconView(FleetAPIView):
    """A title's custom icon for a team: a PNG up to 100 KB."""

    parser_classes = [MultiPartParser, FormParser]

    def _check(self, request: Request, title_id: int, action: str) -> int | None:
        team_id = form_team(request) if request.method == "PUT" else team_param(request)
        service.get_installer(request.user, title_id, team_id, action)
        return team_id

    @extend_schema(
        summary="A title's icon", parameters=[TEAM_PARAM], responses={(200, "image/png"): OpenApiTypes.BINARY}
    )
    def get(self, request: Request, title_id: int) -> HttpResponse:
        team_id = self._check(request, title_id, "read")
        icon = SoftwareTitleIcon.objects.filter(team_key=team_id or 0, title_id=title_id).first()
        if icon is None:
            # fleetctl gitops reads "no custom icon" as 204 No Content.
            return HttpResponse(status=204)
        return icon_response(icon)

    @extend_schema(
        summary="Set a title's icon (multipart `icon`, PNG)",
        parameters=[TEAM_PARAM],
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"icon": {"type": "string", "format": "binary"}, "team_id": {"type": "integer"}},
            }
        },
        responses={200: None},
    )
    def put(self, request: Request, title_id: int) -> Response:
        team_id = self._check(request, title_id, "write")
        upload = request.FILES.get("icon")
        if upload is None:
            raise bad_request("icon: no file was uploaded")
        raw = upload.read(MAX_ICON_BYTES + 1)
        if len(raw) > MAX_ICON_BYTES:
            raise bad_request("icon must be at most 100KB")
        if not raw.startswith(b"\x89PNG\r\n\x1a\n"):
            raise bad_request("icon must be a PNG image")
        SoftwareTitleIcon.objects.update_or_create(
            team_key=team_id or 0,
            title_id=title_id,
            defaults={"filename": upload.name.rsplit("/", 1)[-1][:255], "content": raw},
        )
        return Response({})

    @extend_schema(summary="Remove a title's icon", parameters=[TEAM_PARAM], request=None, responses={204: None})
    def delete(self, request: Request, title_id: int) -> Response:
        team_id = self._check(request, title_id, "write")
        SoftwareTitleIcon.objects.filter(team_key=team_id or 0, title_id=title_id).delete()
        return Response(status=204)


class HostInstallView(FleetAPIView):
    """`POST /hosts/{id}/software/{title_id}/install`: queue the team's package on the host (202)."""

    uninstall = False

    @extend_schema(summary="Install a title's package on a host", request=None, responses={202: None})
    def post(self, request: Request, host_id: int, title_id: int) -> Response:
        host = get_visible_host(request, host_id)
        if not permissions.can(request.user, "write", permissions.Kind.INSTALLER, host.team_id):
            raise forbidden()
        (service.uninstall if self.uninstall else service.install)(request.user, host, title_id)
        return Response({}, status=202)


class HostUninstallView(HostInstallView):
    uninstall = True


class InstallResultView(FleetAPIView):
    @extend_schema(
        summary="The result of a software install",
        responses={200: envelope("InstallResult", results=serializers.DictField())},
    )
    def get(self, request: Request, install_uuid: str) -> Response:
        return Response({"results": service.result_json(service.visible_install(request.user, install_uuid))})


class HostSoftwareView(FleetAPIView):
    """`GET /hosts/{id}/software`: installed titles and the team's packages, with this host's install status."""

    @extend_schema(
        summary="A host's software, with what can be installed and its status",
        parameters=[
            OpenApiParameter("page", int),
            OpenApiParameter("per_page", int),
            OpenApiParameter("query", str),
            OpenApiParameter("self_service", bool),
            OpenApiParameter("available_for_install", bool),
            OpenApiParameter("vulnerable", bool, description="only installed titles with an open CVE on this host"),
            OpenApiParameter("order_direction", str, enum=["asc", "desc"]),
        ],
        responses={
            200: envelope(
                "HostSoftwareList",
                software=serializers.ListField(child=serializers.DictField()),
                count=serializers.IntegerField(),
                meta=serializers.DictField(),
            )
        },
    )
    def get(self, request: Request, host_id: int) -> Response:
        host = get_visible_host(request, host_id)
        options = {
            "query": request.query_params.get("query", ""),
            "self_service": flag(request, "self_service"),
            "available_for_install": flag(request, "available_for_install"),
            "vulnerable": flag(request, "vulnerable"),
        }
        descending = request.query_params.get("order_direction") == "desc"
        page, meta = page_from(request).slice(host_software.rows(host, **options, descending=descending))
        return Response(
            {
                "software": host_software.page_json(host, page),
                "count": host_software.count(host, **options),
                "meta": meta,
            }
        )
