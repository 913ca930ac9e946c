"""REST: `/vulnerabilities`, `/vulnerabilities/{cve}`, `/os_versions`, `/os_versions/{id}` in Fleet's shapes.

Counts are of hosts the user may see (and of `team_id`'s hosts when given), computed in the database
from the open host history rows the matching job keeps.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Count, Min, OuterRef, Q, QuerySet, Subquery
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions
from fleetsite.api.errors import bad_request, not_found
from fleetsite.api.pagination import Page, page_from
from fleetsite.api.schema import PAGE_META, envelope
from fleetsite.api.views import FleetAPIView, flag
from fleetsite.lib.keyset import Keyset
from hosts.models import Host
from vulnerabilities.api.serializers import cve_json, cve_meta, timestamp
from vulnerabilities.listing import CVEFilters, cursor_value, cve_keyset, open_cve_rows
from vulnerabilities.models import CVE, HostVulnerability, OSVersion, OSVulnerability, SoftwareVulnerability

CVE_FORMAT = re.compile(r"^CVE-\d{4}-\d{4,}$")
INVALID_CVE = (
    'That vulnerability (CVE) is not valid. Try updating your search to use CVE format: "CVE-YYYY-<4 or more digits>"'
)
# Fleet's free keys (host_count, created_at, …) and Premium's score keys: all of them work here.
VULN_ORDER_KEYS = {
    "cve": "cve",
    "host_count": "hosts_count",
    "hosts_count": "hosts_count",
    "host_count_updated_at": "cve",
    "created_at": "created_at",
    "cvss_score": "cvss_score",
    "epss_probability": "epss_probability",
    "cisa_known_exploit": "cisa_known_exploit",
    "cve_published": "cve_published",
}
OS_ORDER_KEYS = {"hosts_count": "hosts_count", "name": "name", "name_only": "name_only", "version": "version"}

LIST_PARAMS = [
    OpenApiParameter("team_id", int, description="only hosts of this team (0: hosts with no team)"),
    OpenApiParameter("exploit", bool, description="only CVEs in CISA's Known Exploited Vulnerabilities"),
    OpenApiParameter("query", str, description="substring of the CVE id"),
    OpenApiParameter("order_key", str, enum=list(VULN_ORDER_KEYS)),
    OpenApiParameter("order_direction", str, enum=["asc", "desc"]),
    OpenApiParameter("page", int),
    OpenApiParameter("per_page", int),
    OpenApiParameter(
        "after",
        str,
        description="keyset paging: rows after this value of the order key (page is then ignored, meta left out)",
    ),
    OpenApiParameter("after_id", str, description="with after: the last row's CVE, so rows tied on the value follow"),
]
_ANY_LIST = serializers.ListField(child=serializers.DictField())


def team_scope(request: Request) -> int | None:
    """`team_id` after the permission check: a team the user cannot see is a 404, as in Fleet."""
    raw = request.query_params.get("team_id")
    if raw in (None, ""):
        return None
    try:
        team_id = int(raw)
    except ValueError as exc:
        raise bad_request(f"invalid team_id: {raw!r} is not an integer") from exc
    if team_id and not permissions.can_read_team(request.user, team_id):
        raise not_found(f"Team {team_id} was not found in the datastore")
    return team_id


def visible_hosts(request: Request, team_id: int | None) -> QuerySet:
    hosts = permissions.scope_to_teams(Host.objects.all(), request.user)
    if team_id == 0:
        return hosts.filter(team__isnull=True)
    if team_id is not None:
        return hosts.filter(team_id=team_id)
    return hosts


def _order(request: Request, keys: dict[str, str], default: str) -> tuple[str, str]:
    key, direction = request.query_params.get("order_key") or "", request.query_params.get("order_direction") or ""
    if key and key not in keys:
        raise bad_request("invalid order key")
    if direction and direction not in ("asc", "desc"):
        raise bad_request("invalid order_direction: asc or desc")
    column = keys.get(key, default)
    prefix = "-" if (direction or ("desc" if column == "hosts_count" else "asc")) == "desc" else ""
    return column, prefix


def vulnerability_rows(request: Request, team_id: int | None) -> tuple[QuerySet, Keyset]:
    """One row per CVE open on a visible host: hosts_count, first detection and the CVE's scores for sorting."""
    column, prefix = _order(request, VULN_ORDER_KEYS, "hosts_count")
    keyset = cve_keyset(column, descending=bool(prefix))
    filters = CVEFilters(exploit=flag(request, "exploit"), query=request.query_params.get("query", "").strip())
    return open_cve_rows(visible_hosts(request, team_id), filters, keyset), keyset


def _after(request: Request, keyset: Keyset) -> Q | None:
    """Fleet's `after` (the last row's value of the order key) plus `after_id` (its CVE) for ties; None if unused."""
    raw, tie = request.query_params.get("after", ""), request.query_params.get("after_id", "")
    if raw == "":
        return None
    key = request.query_params.get("order_key") or "hosts_count"
    try:
        value = cursor_value(keyset.column, raw)
    except ValueError as exc:
        raise bad_request(f"invalid after: {raw!r} is not a value of the order key {key}") from exc
    if len(tie) > 64:
        raise bad_request("invalid after_id: not a CVE of the list")
    return keyset.after(value, tie or None)


def vulnerability_json(row: dict[str, Any], meta: dict[str, Any] | None) -> dict[str, Any]:
    body = cve_json(row["cve"], meta)
    body.pop("resolved_in_version")
    body.update(
        hosts_count=row["hosts_count"],
        hosts_count_updated_at=timestamp(row.get("counts_at")),
        created_at=timestamp(row["created_at"]),
    )
    return body


class VulnerabilityListView(FleetAPIView):
    """`GET /vulnerabilities`: CVEs found on the hosts the user can see."""

    @extend_schema(
        summary="Vulnerabilities found on hosts",
        parameters=LIST_PARAMS,
        responses={
            200: envelope(
                "VulnerabilityList", vulnerabilities=_ANY_LIST, count=serializers.IntegerField(),
                counts_updated_at=serializers.DateTimeField(allow_null=True),
                # Left out of a keyset (`after`) page, as in Fleet.
                meta=inline_serializer(name="VulnPageMeta", fields=PAGE_META, required=False),
            )
        },
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        rows_qs, keyset = vulnerability_rows(request, team_scope(request))
        page = page_from(request)
        after = _after(request, keyset)
        if after is not None:
            # As in Fleet: `after` supersedes `page`, and a cursor page has no `meta`.
            rows, _ = Page(page=0, per_page=page.per_page).slice(rows_qs.filter(after))
            meta = None
        else:
            rows, meta = page.slice(rows_qs)
        info = cve_meta({row["cve"] for row in rows})
        body = {
            "vulnerabilities": [vulnerability_json(row, info.get(row["cve"])) for row in rows],
            "count": rows_qs.count(),
            "counts_updated_at": None,
        }
        if meta is not None:
            body["meta"] = meta
        return Response(body)


class VulnerabilityDetailView(FleetAPIView):
    """`GET /vulnerabilities/{cve}`: one CVE with the OS versions and software versions that have it."""

    @extend_schema(
        summary="One vulnerability, with affected OS and software versions",
        parameters=[OpenApiParameter("team_id", int)],
        responses={
            200: envelope("VulnerabilityDetail", vulnerability=serializers.DictField(), os_versions=_ANY_LIST,
                          software=_ANY_LIST)
        },
    )  # fmt: skip
    def get(self, request: Request, cve: str) -> Response:
        cve = cve.strip()
        known = (
            CVE.objects.filter(cve=cve)
            .values(
                "cve", "cvss_score", "epss_probability", "cisa_known_exploit", "published", "description", "created_at"
            )
            .first()
        )
        if known is None and not CVE_FORMAT.match(cve.upper()):
            raise bad_request(INVALID_CVE)
        team_id = team_scope(request)
        hosts = visible_hosts(request, team_id)
        open_rows = HostVulnerability.objects.filter(cve=cve, resolved_at__isnull=True, host__in=hosts)
        hosts_count = open_rows.values("host_id").distinct().count()
        if known is None and not hosts_count:
            raise not_found(f"Vulnerability {cve} was not found in the datastore")
        created = open_rows.aggregate(first=Min("first_detected_at"))["first"]
        body = vulnerability_json({"cve": cve, "hosts_count": hosts_count, "created_at": created}, known)
        return Response(
            {
                "vulnerability": body,
                "os_versions": _os_versions_with(cve, hosts),
                "software": _software_with(cve, open_rows),
            }
        )


def _software_with(cve: str, open_rows: QuerySet) -> list[dict[str, Any]]:
    rows = (
        open_rows.filter(software__isnull=False)
        .values("software_id", "software__name", "software__version", "software__source")
        .annotate(hosts_count=Count("host_id", distinct=True))
        .order_by("software__name", "software__version")
    )
    fixed = dict(
        SoftwareVulnerability.objects.filter(cve=cve, software_id__in=[r["software_id"] for r in rows]).values_list(
            "software_id", "resolved_in_version"
        )
    )
    return [
        {
            "id": row["software_id"],
            "name": row["software__name"],
            "version": row["software__version"],
            "source": row["software__source"],
            "browser": "",
            "generated_cpe": "",
            "hosts_count": row["hosts_count"],
            "resolved_in_version": fixed.get(row["software_id"]) or None,
        }
        for row in rows
    ]


def _os_versions_with(cve: str, hosts: QuerySet) -> list[dict[str, Any]]:
    matches = OSVulnerability.objects.filter(cve=cve).select_related("os_version")
    counts = _os_host_counts(hosts, [m.os_version for m in matches])
    return [
        {**os_json(m.os_version, counts.get(m.os_version_id, 0)), "resolved_in_version": m.resolved_in_version or None}
        for m in matches
        if counts.get(m.os_version_id)
    ]


def _os_host_counts(hosts: QuerySet, versions: list[OSVersion]) -> dict[int, int]:
    if not versions:
        return {}
    by_pair = {(v.name, v.platform): v.pk for v in versions}
    rows = (
        hosts.filter(os_version__in={v.name for v in versions})
        .values("os_version", "platform")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {
        by_pair[(r["os_version"], r["platform"])]: r["n"] for r in rows if (r["os_version"], r["platform"]) in by_pair
    }


def os_json(
    version: OSVersion, hosts_count: int, vulnerabilities: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "os_version_id": version.pk,
        "hosts_count": hosts_count,
        "name": version.name,
        "name_only": version.name_only,
        "version": version.version,
        "platform": version.platform,
        "vulnerabilities": vulnerabilities if vulnerabilities is not None else [],
    }
    if version.name_only.lower() == "macos" and version.version:
        body["generated_cpes"] = [f"cpe:2.3:o:apple:macos:{version.version.split()[0]}:*:*:*:*:*:*:*"]
    return body


def _os_vulnerabilities(version_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    rows = list(OSVulnerability.objects.filter(os_version_id__in=version_ids).order_by("cve").values_list(
        "os_version_id", "cve", "resolved_in_version"
    ))  # fmt: skip
    meta = cve_meta({cve for _, cve, _ in rows})
    out: dict[int, list[dict[str, Any]]] = {pk: [] for pk in version_ids}
    for os_id, cve, fixed in rows:
        out[os_id].append(cve_json(cve, meta.get(cve), fixed))
    return out


def os_version_rows(request: Request, team_id: int | None) -> QuerySet:
    """OS versions with the number of visible hosts on each, in the database; versions with no host are left out."""
    counted = (
        visible_hosts(request, team_id)
        .filter(os_version=OuterRef("name"), platform=OuterRef("platform"))
        .order_by()
        .values("os_version")
        .annotate(n=Count("pk"))
        .values("n")
    )
    rows = OSVersion.objects.annotate(hosts_count=Subquery(counted[:1])).filter(hosts_count__gt=0)
    platform = request.query_params.get("platform")
    if platform:
        rows = rows.filter(platform=platform)
    name, version = request.query_params.get("os_name"), request.query_params.get("os_version")
    if name:
        rows = rows.filter(Q(name_only=name) | Q(name=name))
    if version:
        rows = rows.filter(version=version)
    column, prefix = _order(request, OS_ORDER_KEYS, "hosts_count")
    return rows.order_by(f"{prefix}{column}", "name", "pk")


class OSVersionListView(FleetAPIView):
    """`GET /os_versions`: operating system versions hosts report, with host counts and CVEs."""

    @extend_schema(
        summary="OS versions with host counts and vulnerabilities",
        parameters=[
            OpenApiParameter("team_id", int), OpenApiParameter("platform", str), OpenApiParameter("os_name", str),
            OpenApiParameter("os_version", str), OpenApiParameter("order_key", str, enum=list(OS_ORDER_KEYS)),
            OpenApiParameter("order_direction", str, enum=["asc", "desc"]), OpenApiParameter("page", int),
            OpenApiParameter("per_page", int),
        ],
        responses={
            200: envelope(
                "OSVersionList", os_versions=_ANY_LIST, count=serializers.IntegerField(),
                counts_updated_at=serializers.DateTimeField(allow_null=True),
                meta=envelope("OSVersionPageMeta", **PAGE_META),
            )
        },
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        rows_qs = os_version_rows(request, team_scope(request))
        rows, meta = page_from(request).slice(rows_qs)
        vulns = _os_vulnerabilities([row.pk for row in rows])
        return Response(
            {
                "counts_updated_at": None,
                "os_versions": [os_json(row, row.hosts_count, vulns[row.pk]) for row in rows],
                "count": rows_qs.count(),
                "meta": meta,
            }
        )


class OSVersionDetailView(FleetAPIView):
    """`GET /os_versions/{id}`: one OS version (Fleet's os_version_id)."""

    @extend_schema(
        summary="One OS version",
        parameters=[OpenApiParameter("team_id", int)],
        responses={200: envelope("OSVersionDetail", os_version=serializers.DictField(),
                                 counts_updated_at=serializers.DateTimeField(allow_null=True))},
    )  # fmt: skip
    def get(self, request: Request, os_version_id: int) -> Response:
        team_id = team_scope(request)
        row = os_version_rows(request, team_id).filter(pk=os_version_id).first()
        if row is None:
            raise not_found(f"OS version {os_version_id} was not found in the datastore")
        return Response(
            {
                "counts_updated_at": None,
                "os_version": os_json(row, row.hosts_count, _os_vulnerabilities([row.pk])[row.pk]),
            }
        )
