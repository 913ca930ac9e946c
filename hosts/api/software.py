"""Software inventory REST API (fleet-protocol §4.8): titles and versions with host counts."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions
from fleetsite.api.errors import bad_request, not_found
from fleetsite.api.fields import MAX_ID
from fleetsite.api.pagination import page_from
from fleetsite.api.schema import PAGE_META, envelope, single
from fleetsite.api.views import FleetAPIView, flag
from fleetsite.dbrouter import reads_from_replica
from hosts import software
from vulnerabilities.api.serializers import software_vulnerabilities, vulnerable_software_ids

PARAMS = [
    OpenApiParameter("query", str, description="substring of the software name"),
    OpenApiParameter("team_id", int, description="only hosts of this team (0: hosts with no team)"),
    OpenApiParameter("order_direction", str, enum=["asc", "desc"]),
    OpenApiParameter("page", int),
    OpenApiParameter("per_page", int),
]
TITLE_PARAMS = [*PARAMS, OpenApiParameter("order_key", str, enum=list(software.TITLE_ORDER_KEYS))]
VERSION_PARAMS = [
    *PARAMS,
    OpenApiParameter("order_key", str, enum=list(software.VERSION_ORDER_KEYS)),
    OpenApiParameter("title_id", int),
    OpenApiParameter("vulnerable", bool, description="only versions with at least one CVE"),
    OpenApiParameter("exploit", bool, description="only versions with a CVE in CISA's KEV catalog"),
    OpenApiParameter("min_cvss_score", float, description="only versions with a CVE scored at least this"),
    OpenApiParameter("max_cvss_score", float, description="only versions with a CVE scored at most this"),
]


_PAGED_COUNTS = {
    "count": serializers.IntegerField(),
    "counts_updated_at": serializers.DateTimeField(allow_null=True),
    "meta": envelope("PageMeta", **PAGE_META),
}
SOFTWARE_TITLES = envelope(
    "SoftwareTitleList", software_titles=serializers.ListField(child=serializers.DictField()), **_PAGED_COUNTS
)
SOFTWARE_VERSIONS = envelope(
    "SoftwareVersionList", software=serializers.ListField(child=serializers.DictField()), **_PAGED_COUNTS
)
SOFTWARE_LEGACY = envelope(
    "SoftwareLegacyList",
    software=serializers.ListField(child=serializers.DictField()),
    counts_updated_at=serializers.DateTimeField(allow_null=True),
)


def vulnerable_filter(request: Request) -> Any:
    """Software ids for `vulnerable`, `exploit`, `min_cvss_score`, `max_cvss_score` (each implies vulnerable)."""
    scores = {}
    for name in ("min_cvss_score", "max_cvss_score"):
        raw = request.query_params.get(name)
        if raw not in (None, ""):
            try:
                scores[name] = float(raw)
            except ValueError as exc:
                raise bad_request(f"invalid {name}: {raw!r} is not a number") from exc
    exploit = flag(request, "exploit")
    if not (flag(request, "vulnerable") or exploit or scores):
        return None
    return vulnerable_software_ids(exploit, scores.get("min_cvss_score"), scores.get("max_cvss_score"))


def _team_id(request: Request) -> int | None:
    raw = request.query_params.get("team_id")
    if raw in (None, ""):
        return None
    try:
        team_id = int(raw)
    except ValueError as exc:
        raise bad_request(f"invalid team_id: {raw!r} is not an integer") from exc
    if not 0 <= team_id <= MAX_ID:
        raise bad_request(f"invalid team_id: {raw!r} is out of range")
    if team_id and not permissions.can_read_team(request.user, team_id):
        raise not_found(f"Team {team_id} was not found in the datastore")
    return team_id


def _order(request: Request, keys: dict[str, str]) -> tuple[str | None, str | None]:
    """The list's sort key and direction; a 400 naming the valid keys for anything else."""
    key, direction = request.query_params.get("order_key"), request.query_params.get("order_direction")
    if key and key not in keys:
        raise bad_request(f"invalid order_key: one of {', '.join(keys)}")
    if direction and direction not in ("asc", "desc"):
        raise bad_request("invalid order_direction: asc or desc")
    return key, direction


def title_json(row: dict[str, Any], versions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": row["title_id"],
        "name": row["name"],
        "source": row["source"],
        "browser": "",
        "hosts_count": row["hosts_count"],
        "versions_count": row["versions_count"],
        "versions": versions,
    }


def version_json(row: dict[str, Any], vulnerabilities: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": row["version_id"],
        "name": row["name"],
        "version": row["version"],
        "source": row["source"],
        "browser": "",
        "vendor": row["vendor"],
        "bundle_identifier": row["bundle_identifier"] or None,
        "generated_cpe": "",
        "hosts_count": row["hosts_count"],
        "vulnerabilities": vulnerabilities or None,
    }


@reads_from_replica
class TitleListView(FleetAPIView):
    @extend_schema(
        summary="Software titles with host counts", parameters=TITLE_PARAMS, responses={200: SOFTWARE_TITLES}
    )
    def get(self, request: Request) -> Response:
        key, direction = _order(request, software.TITLE_ORDER_KEYS)
        installs = software.installs_for(request.user, _team_id(request))
        rows_qs = software.titles(
            installs,
            request.query_params.get("query", ""),
            key,
            direction,
            vulnerable=vulnerable_filter(request),
        )
        rows, meta = page_from(request).slice(rows_qs)
        versions = software.title_versions([row["title_id"] for row in rows], installs)
        return Response(
            {
                "software_titles": [title_json(row, versions[row["title_id"]]) for row in rows],
                "count": rows_qs.count(),
                "counts_updated_at": None,
                "meta": meta,
            }
        )


class TitleDetailView(FleetAPIView):
    @extend_schema(summary="One software title", responses={200: single("SoftwareTitleDetail", "software_title")})
    def get(self, request: Request, title_id: int) -> Response:
        from software_installers.service import find_installer, installer_json

        team_id = _team_id(request)
        installs = software.installs_for(request.user, team_id)
        title = software.titles(installs.filter(software_id__in=_same_title(title_id))).first()
        # A title a team offers a package for exists before any host has it (Fleet: available for install).
        installer = find_installer(title_id, team_id) if team_id is not None else None
        if title is None and installer is not None:
            title = {
                "name": installer.title.name,
                "source": installer.title.source,
                "hosts_count": 0,
                "versions_count": 0,
            }
        if title is None:
            raise not_found(f"Software title {title_id} was not found in the datastore")
        title["title_id"] = title_id
        body = title_json(title, software.title_versions([title_id], installs)[title_id])
        body["software_package"] = installer_json(installer) if installer is not None else None
        body["app_store_app"] = None
        return Response({"software_title": body})


def _same_title(title_id: int) -> Any:
    from hosts.models import Software

    title = Software.objects.filter(pk=title_id).values("name", "source").first()
    if title is None:
        return Software.objects.none().values("pk")
    return Software.objects.filter(name=title["name"], source=title["source"]).values("pk")


def _version_rows(request: Request) -> Any:
    """The versions list's rows for the request's filters (`vulnerable=true`: with a CVE), ordered in the database."""
    key, direction = _order(request, software.VERSION_ORDER_KEYS)
    title_id = request.query_params.get("title_id")
    rows = software.versions(
        software.installs_for(request.user, _team_id(request)),
        request.query_params.get("query", ""),
        int(title_id) if title_id and title_id.isdigit() and int(title_id) <= MAX_ID else None,
        key,
        direction,
        vulnerable=vulnerable_filter(request),
    )
    return rows


def _with_cves(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A page of version rows as JSON, each with its CVEs (one query for the page)."""
    cves = software_vulnerabilities([row["version_id"] for row in rows])
    return [version_json(row, cves[row["version_id"]]) for row in rows]


@reads_from_replica
class VersionListView(FleetAPIView):
    @extend_schema(
        summary="Software versions with host counts",
        parameters=VERSION_PARAMS,
        responses={200: SOFTWARE_VERSIONS},
    )
    def get(self, request: Request) -> Response:
        rows_qs = _version_rows(request)
        rows, meta = page_from(request).slice(rows_qs)
        return Response(
            {"software": _with_cves(rows), "count": rows_qs.count(), "counts_updated_at": None, "meta": meta}
        )


@reads_from_replica
class SoftwareListView(FleetAPIView):
    """`GET /software`: Fleet's deprecated versions list, without `count` and `meta`."""

    @extend_schema(
        summary="Software versions (deprecated: /software/versions)",
        parameters=VERSION_PARAMS,
        responses={200: SOFTWARE_LEGACY},
        deprecated=True,
    )
    def get(self, request: Request) -> Response:
        rows, _ = page_from(request).slice(_version_rows(request))
        return Response({"counts_updated_at": None, "software": _with_cves(rows)})


@reads_from_replica
class SoftwareCountView(FleetAPIView):
    """`GET /software/count`: how many versions the deprecated list would show."""

    @extend_schema(
        summary="Count software versions (deprecated)",
        parameters=VERSION_PARAMS,
        responses={200: envelope("SoftwareCount", count=serializers.IntegerField())},
        deprecated=True,
    )
    def get(self, request: Request) -> Response:
        return Response({"count": _version_rows(request).count()})


class VersionDetailView(FleetAPIView):
    @extend_schema(summary="One software version", responses={200: single("SoftwareVersionDetail", "software")})
    def get(self, request: Request, version_id: int) -> Response:
        row = software.versions(software.installs_for(request.user).filter(software_id=version_id)).first()
        if row is None:
            raise not_found(f"Software version {version_id} was not found in the datastore")
        return Response({"software": _with_cves([row])[0]})
