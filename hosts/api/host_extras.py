"""Per-host REST routes beyond the host record: search, health, manual labels, certificates, macadmins, MDM.

Each answers Fleet's JSON keys and status codes (server/service/hosts.go); hosts another team
owns are 404, so their existence does not leak, and changes need a write role on the host's team.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions
from fleetsite.api.aliases import names_written
from fleetsite.api.errors import FleetAPIError, bad_request, forbidden
from fleetsite.api.fields import ObjectIdField
from fleetsite.api.pagination import page_from
from fleetsite.api.schema import EMPTY, FleetErrorSerializer, envelope, listing, single
from fleetsite.api.views import FleetAPIView
from hosts.api.serializers import rfc3339, summary_from_row, summary_rows
from hosts.api.views import get_visible_host, visible_hosts
from hosts.choices import LabelMembershipType
from hosts.models import Host, LabelMembership
from hosts.search import matching

# The target picker matches these (Fleet's searchHosts); the host list adds public_ip.
TARGET_SEARCHED = ("hostname", "computer_name", "uuid", "hardware_serial", "primary_ip")
# Fleet's datastore answers at most this many hosts to a search (the target picker's list).
SEARCH_LIMIT = 10
# Go's zero time, which Fleet writes when no aggregate was ever counted (none is collected here).
NEVER_COUNTED = "0001-01-01T00:00:00Z"
# Fleet's error when MDM is not turned on (server/fleet/errors.go, ErrMDMNotConfigured).
MDM_NOT_CONFIGURED = (
    "MDM features aren't turned on in Fleet. For more information about setting up MDM, "
    "please visit https://fleetdm.com/docs/using-fleet/mdm-setup"
)


class HostSearchSerializer(serializers.Serializer):
    """Fleet's `searchHostsRequest`; the ids the caller already selected are left out of the answer."""

    query = serializers.CharField(required=False, allow_blank=True, default="", max_length=1024)
    query_id = ObjectIdField(required=False, allow_null=True)
    excluded_host_ids = serializers.ListField(child=ObjectIdField(), required=False, default=list)
    exclude_host_ids = serializers.ListField(child=ObjectIdField(), required=False, default=list)
    selected_host_ids = serializers.ListField(child=ObjectIdField(), required=False, default=list)


def search_condition(text: str) -> Q:
    """Fleet's target search: hostname, display name, uuid, serial or private IP containing the text."""
    return matching(text, TARGET_SEARCHED)


def host_rows(host_ids: list[int]) -> list[dict[str, Any]]:
    """Host list rows (the `/hosts` shape) for these ids, in this order."""
    now = timezone.now()
    by_id = {row["id"]: row for row in (summary_from_row(row, now) for row in summary_rows(host_ids))}
    return [by_id[host_id] for host_id in host_ids if host_id in by_id]


class HostSearchView(FleetAPIView):
    """`POST /hosts/search`: the target picker's host search, in the teams the user sees."""

    @extend_schema(
        summary="Search hosts by name, uuid, serial or IP",
        request=HostSearchSerializer,
        responses={200: listing("HostSearchResults", "hosts")},
    )
    def post(self, request: Request) -> Response:
        data = self.validated(HostSearchSerializer, request)
        excluded = {*data["excluded_host_ids"], *data["exclude_host_ids"], *data["selected_host_ids"]}
        hosts = visible_hosts(request).exclude(pk__in=excluded)
        text = data["query"].strip()
        if text:
            hosts = hosts.filter(search_condition(text)).order_by("hostname", "id")
        else:
            hosts = hosts.order_by("-seen_time", "id")  # Fleet: the most recently seen hosts first
        ids = list(hosts.values_list("id", flat=True)[:SEARCH_LIMIT])
        return names_written(Response({"hosts": host_rows(ids)}))


def host_health(host: Host) -> dict[str, Any]:
    """Fleet's HostHealth: failing policies (team and global) and software with open CVEs."""
    from queries.models import PolicyMembership  # queries builds on hosts, not the reverse
    from vulnerabilities.api.serializers import host_vulnerable_software

    failing = (
        PolicyMembership.objects.filter(host.belongs_here("policy__"), host=host, passes=False)
        .order_by("policy__name", "policy_id")
        .values_list("policy_id", "policy__name", "policy__resolution")
    )
    policies = [{"id": pk, "name": name, "resolution": resolution} for pk, name, resolution in failing]
    health: dict[str, Any] = {
        "updated_at": rfc3339(host.updated_at),
        "os_version": host.os_version,
        "failing_policies_count": len(policies),
        "vulnerable_software": host_vulnerable_software(host.pk),
        "failing_policies": policies,
    }
    if host.disk_encryption_enabled is not None:
        health["disk_encryption_enabled"] = host.disk_encryption_enabled
    return health


class HostHealthView(FleetAPIView):
    """`GET /hosts/{id}/health`: what a health check or a conditional-access script needs."""

    @extend_schema(
        summary="A host's health: failing policies and vulnerable software",
        responses={200: envelope("HostHealth", host_id=serializers.IntegerField(), health=serializers.DictField())},
    )
    def get(self, request: Request, host_id: int) -> Response:
        host = get_visible_host(request, host_id)
        return Response({"host_id": host.pk, "health": host_health(host)})


class HostLabelsSerializer(serializers.Serializer):
    labels = serializers.ListField(
        child=serializers.CharField(allow_blank=True, max_length=255), required=False, default=list, max_length=10_000
    )


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{name}"' for name in sorted(names))


def manual_labels(request: Request, host: Host, names: list[str], verb: str) -> list[int]:
    """The ids of the named labels, all manual; else Fleet's 400 naming the missing or dynamic ones.

    A team's label belongs to that team's hosts only: for any other host it does not exist.
    """
    from queries.labels import visible_labels  # queries builds on hosts, not the reverse

    wanted = list(dict.fromkeys(name for name in names if name))
    if not wanted:
        return []
    labels = visible_labels(request.user).filter(name__in=wanted).filter(Q(team__isnull=True) | Q(team_id=host.team_id))
    found = {label.name: label for label in labels.only("id", "name", "label_membership_type")}
    missing = [name for name in wanted if name not in found]
    if missing:
        raise bad_request(f"Couldn't {verb} labels. Labels not found: {_quoted(missing)}. All labels must exist.")
    dynamic = [name for name, label in found.items() if label.label_membership_type != LabelMembershipType.MANUAL]
    if dynamic:
        raise bad_request(
            f"Couldn't {verb} labels. Labels are dynamic: {_quoted(dynamic)}. "
            "Dynamic labels can not be assigned to hosts manually."
        )
    return [label.pk for label in found.values()]


@extend_schema_view(
    post=extend_schema(summary="Add manual labels to a host", request=HostLabelsSerializer, responses={200: EMPTY}),
    delete=extend_schema(
        summary="Remove manual labels from a host", request=HostLabelsSerializer, responses={200: EMPTY}
    ),
)
class HostLabelsView(FleetAPIView):
    """`POST` and `DELETE /hosts/{id}/labels` with `{"labels": [names]}`: manual label membership."""

    def _target(self, request: Request, host_id: int, verb: str) -> tuple[Host, list[int]]:
        host = get_visible_host(request, host_id)
        if not permissions.can(request.user, permissions.Action.WRITE, permissions.Kind.HOST, host.team_id):
            raise forbidden()
        names = self.validated(HostLabelsSerializer, request)["labels"]
        return host, manual_labels(request, host, names, verb)

    def post(self, request: Request, host_id: int) -> Response:
        host, label_ids = self._target(request, host_id, "add")
        with transaction.atomic():
            present = set(
                LabelMembership.objects.filter(host=host, label_id__in=label_ids).values_list("label_id", flat=True)
            )
            now = timezone.now()
            LabelMembership.objects.bulk_create(
                [LabelMembership(label_id=pk, host=host, updated_at=now) for pk in label_ids if pk not in present]
            )
        return Response({})

    def delete(self, request: Request, host_id: int) -> Response:
        host, label_ids = self._target(request, host_id, "remove")
        if label_ids:
            with transaction.atomic():
                LabelMembership.objects.filter(host=host, label_id__in=label_ids).delete()
        return Response({})


class HostCertificatesView(FleetAPIView):
    """`GET /hosts/{id}/certificates`: none are ingested yet, so Fleet's empty page."""

    @extend_schema(summary="A host's certificates", responses={200: listing("HostCertificates", "certificates")})
    def get(self, request: Request, host_id: int) -> Response:
        get_visible_host(request, host_id)
        page = page_from(request)
        meta = {"has_next_results": False, "has_previous_results": page.page > 0}
        return Response({"certificates": [], "meta": meta, "count": 0})


class HostMacadminsView(FleetAPIView):
    """`GET /hosts/{id}/macadmins`: Munki and MDM data; none is collected, and Fleet answers null then."""

    @extend_schema(
        summary="A host's Munki and MDM data (null: none collected)",
        responses={200: envelope("HostMacadmins", macadmins=serializers.DictField(allow_null=True))},
    )
    def get(self, request: Request, host_id: int) -> Response:
        get_visible_host(request, host_id)
        return Response({"macadmins": None})


class MacadminsView(FleetAPIView):
    """`GET /macadmins`: Munki versions and MDM enrollment across visible hosts; empty, since none are collected."""

    @extend_schema(
        summary="Munki and MDM data across hosts", responses={200: single("AggregatedMacadmins", "macadmins")}
    )
    def get(self, request: Request) -> Response:
        team_id = request.query_params.get("team_id")
        if team_id not in (None, ""):
            try:
                team_pk = int(team_id)
            except ValueError as exc:
                raise bad_request(f"invalid team_id: {team_id!r} is not an integer") from exc
            if team_pk and not permissions.can_read_team(request.user, team_pk):
                raise forbidden()
        return Response(
            {
                "macadmins": {
                    "counts_updated_at": NEVER_COUNTED,
                    "munki_versions": [],
                    "munki_issues": [],
                    "mobile_device_management_enrollment_status": {
                        "enrolled_manual_hosts_count": 0,
                        "enrolled_automated_hosts_count": 0,
                        "enrolled_personal_hosts_count": 0,
                        "pending_hosts_count": 0,
                        "unenrolled_hosts_count": 0,
                        "hosts_count": 0,
                    },
                    "mobile_device_management_solution": [],
                }
            }
        )


class MDMNotConfiguredView(FleetAPIView):
    """MDM is out of scope: Fleet's own answer when MDM is not turned on, after the usual checks."""

    fleet_route_refused = True

    def _refuse(self) -> FleetAPIError:
        return FleetAPIError(400, "Bad request", MDM_NOT_CONFIGURED)


class HostsMDMSummaryView(MDMNotConfiguredView):
    @extend_schema(summary="MDM summary (MDM is not available)", responses={400: FleetErrorSerializer})
    def get(self, request: Request) -> Response:
        raise self._refuse()


class HostMDMView(MDMNotConfiguredView):
    @extend_schema(summary="A host's MDM data (MDM is not available)", responses={400: FleetErrorSerializer})
    def get(self, request: Request, host_id: int) -> Response:
        get_visible_host(request, host_id)
        raise self._refuse()
