"""Hosts and labels REST API (fleet-protocol §4.2, §4.6)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions
from fleetsite.api.errors import FleetAPIError, conflict, not_found
from fleetsite.api.pagination import page_from
from fleetsite.api.views import FleetAPIView
from hosts.api.serializers import host_detail, host_summary, rfc3339
from hosts.choices import LabelMembershipType, LabelType
from hosts.filtersets import HostFilterSet
from hosts.models import Host, Label


def visible_hosts(request: Request) -> QuerySet:
    return permissions.scope_to_teams(Host.objects.select_related("team"), request.user)


def get_visible_host(request: Request, host_id: int) -> Host:
    """A host the user may see; others are 404, so their existence does not leak."""
    host = visible_hosts(request).filter(pk=host_id).first()
    if host is None:
        raise not_found(f"Host {host_id} was not found in the datastore")
    return host


class HostListView(FleetAPIView):
    filterset_class = HostFilterSet

    def get(self, request: Request) -> Response:
        page = page_from(request)
        hosts, meta = page.slice(self.filter_queryset(request, visible_hosts(request)))
        now = timezone.now()
        return Response({"hosts": [host_summary(host, now) for host in hosts], "meta": meta})


class HostCountView(FleetAPIView):
    filterset_class = HostFilterSet

    def get(self, request: Request) -> Response:
        return Response({"count": self.filter_queryset(request, visible_hosts(request)).order_by().count()})


class HostDetailView(FleetAPIView):
    def get(self, request: Request, host_id: int) -> Response:
        host = get_visible_host(request, host_id)
        include_software = request.query_params.get("exclude_software", "").lower() != "true"
        return Response({"host": host_detail(host, timezone.now(), include_software)})

    def delete(self, request: Request, host_id: int) -> Response:
        host = get_visible_host(request, host_id)
        if not permissions.can_write_team(request.user, host.team_id):
            raise FleetAPIError(403, "Permission Denied", "forbidden")
        host.delete()
        return Response({})


class HostRefetchView(FleetAPIView):
    def post(self, request: Request, host_id: int) -> Response:
        host = get_visible_host(request, host_id)
        Host.objects.filter(pk=host.pk).update(refetch_requested=True, updated_at=timezone.now())
        return Response({})


def label_json(label: Label, host_count: int | None = None) -> dict:
    data = {
        "id": label.pk,
        "name": label.name,
        "description": label.description,
        "query": label.query,
        "platform": label.platform,
        "label_type": label.label_type,
        "label_membership_type": label.label_membership_type,
        "display_text": label.name,
        "author_id": label.author_id,
        "team_id": label.team_id,
        "created_at": rfc3339(label.created_at),
        "updated_at": rfc3339(label.updated_at),
    }
    if host_count is not None:
        data["host_count"] = host_count
        data["count"] = host_count
    return data


class LabelCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    query = serializers.CharField(required=False, allow_blank=True, default="")
    platform = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    host_ids = serializers.ListField(child=serializers.IntegerField(), required=False)

    def validate(self, attrs: dict) -> dict:
        manual = "host_ids" in attrs
        if manual and attrs.get("query"):
            raise serializers.ValidationError({"query": "a manual label (with host_ids) cannot have a query"})
        if not manual and not attrs.get("query", "").strip():
            raise serializers.ValidationError({"query": "a dynamic label needs a query"})
        return attrs


class LabelListView(FleetAPIView):
    def get(self, request: Request) -> Response:
        labels = Label.objects.all()
        if request.query_params.get("include_host_counts", "").lower() in ("true", "1"):
            counts = dict(
                permissions.scope_to_teams(Host.objects.all(), request.user, "team_id")
                .filter(labels__isnull=False)
                .values_list("labels__id")
                .annotate(n=Count("id"))
                .order_by()
            )
            return Response({"labels": [label_json(label, counts.get(label.pk, 0)) for label in labels]})
        return Response({"labels": [label_json(label) for label in labels]})

    def post(self, request: Request) -> Response:
        if not permissions.can_write_team(request.user, None):
            raise FleetAPIError(403, "Permission Denied", "forbidden")
        serializer = LabelCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if Label.objects.filter(name=data["name"]).exists():
            raise conflict(f"a label named {data['name']!r} already exists")
        with transaction.atomic():
            label = Label.objects.create(
                name=data["name"],
                description=data["description"],
                query=data["query"],
                platform=data["platform"],
                label_type=LabelType.REGULAR,
                label_membership_type=LabelMembershipType.MANUAL if "host_ids" in data else LabelMembershipType.DYNAMIC,
                author=request.user,
            )
            if "host_ids" in data:
                label.hosts.set(visible_hosts(request).filter(pk__in=data["host_ids"]))
        return Response({"label": label_json(label)})


class LabelHostsView(FleetAPIView):
    filterset_class = HostFilterSet

    def get(self, request: Request, label_id: int) -> Response:
        if not Label.objects.filter(pk=label_id).exists():
            raise not_found(f"Label {label_id} was not found in the datastore")
        page = page_from(request)
        queryset = self.filter_queryset(request, visible_hosts(request).filter(labels__id=label_id))
        hosts, meta = page.slice(queryset)
        now = timezone.now()
        return Response({"hosts": [host_summary(host, now) for host in hosts], "meta": meta})
