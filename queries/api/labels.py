"""Labels REST beyond list and create (fleet-protocol §4.6): get, modify, delete, summary and `POST /spec/labels`.

Built-in labels are Fleet's own and cannot be changed or deleted (422 naming `label_type`). PATCH
cannot change a dynamic label's query, as in Fleet (its memberships were computed from it);
`fleetctl apply` (the spec) can, since a spec is the desired state.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions
from accounts.models import User
from activities.record import record
from fleetsite.api.errors import conflict, forbidden, not_found, validation_failed
from fleetsite.api.views import FleetAPIView
from hosts.api.views import label_json
from hosts.choices import LabelMembershipType, LabelType
from hosts.models import Host, Label
from queries.sql import SQLError, validate_read_only

CREATED_LABEL = "created_label"
EDITED_LABEL = "edited_label"
DELETED_LABEL = "deleted_label"


def visible_labels(user: User) -> QuerySet:
    """Global labels for everyone with a role; team labels for that team's users."""
    labels = Label.objects.all()
    teams = permissions.visible_team_ids(user)
    if teams is None:
        return labels
    return labels.filter(Q(team__isnull=True) | Q(team_id__in=teams)) if teams else labels.none()


def visible_hosts(user: User) -> QuerySet:
    return permissions.scope_to_teams(Host.objects.all(), user)


def get_label(user: User, label_id: int) -> Label:
    label = visible_labels(user).filter(pk=label_id).first()
    if label is None:
        raise not_found(f"Label {label_id} was not found in the datastore")
    return label


def check_writable(user: User, label: Label, verb: str) -> None:
    """403 without write access; 422 for Fleet's built-in labels."""
    if not permissions.can(user, permissions.Action.WRITE, permissions.Kind.LABEL, label.team_id):
        raise forbidden()
    if label.label_type == LabelType.BUILTIN:
        raise validation_failed("label_type", f"cannot {verb} built-in label '{label.name}'")


def with_count(user: User, label: Label) -> dict[str, Any]:
    return label_json(label, visible_hosts(user).filter(labels=label).count())


def _details(label: Label) -> dict[str, Any]:
    return {"label_id": label.pk, "label_name": label.name}


class LabelPatchSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    query = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    platform = serializers.CharField(required=False, allow_blank=True, max_length=255)
    host_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=100_000)


def modify(user: User, label: Label, data: dict[str, Any]) -> Label:
    """Rename, describe, or (manual labels) set the hosts; records `edited_label`."""
    check_writable(user, label, "modify")
    if "query" in data and data["query"] != label.query:
        raise validation_failed("query", "a label's query cannot be changed; create a new label instead")
    if "platform" in data and data["platform"] != label.platform:
        raise validation_failed("platform", "a label's platform cannot be changed; create a new label instead")
    if "host_ids" in data and label.label_membership_type != LabelMembershipType.MANUAL:
        raise validation_failed("host_ids", "only manual labels take a list of hosts")
    name = data.get("name", label.name).strip()
    if not name:
        raise validation_failed("name", "label name cannot be empty")
    if name != label.name and Label.objects.filter(name=name).exclude(pk=label.pk).exists():
        raise conflict(f"a label named {name!r} already exists")
    label.name = name
    label.description = data.get("description", label.description)
    try:
        with transaction.atomic():
            label.save()
            if "host_ids" in data:
                label.hosts.set(visible_hosts(user).filter(pk__in=data["host_ids"]))
            record(user, EDITED_LABEL, _details(label), team=label.team)
    except IntegrityError as exc:
        raise conflict(f"a label named {name!r} already exists") from exc
    return label


def delete(user: User, label: Label) -> None:
    check_writable(user, label, "delete")
    with transaction.atomic():
        details = _details(label)
        team = label.team
        label.delete()
        record(user, DELETED_LABEL, details, team=team)


class LabelDetailView(FleetAPIView):
    """`GET|PATCH /labels/{id}` and `DELETE /labels/{name}` share one path, as in Fleet."""

    @staticmethod
    def _id(key: str) -> int:
        try:
            return int(key)
        except ValueError as exc:
            raise not_found(f"Label {key} was not found in the datastore") from exc

    @extend_schema(summary="Get a label", responses={200: dict})
    def get(self, request: Request, key: str) -> Response:
        return Response({"label": with_count(request.user, get_label(request.user, self._id(key)))})

    @extend_schema(summary="Modify a label", request=LabelPatchSerializer, responses={200: dict})
    def patch(self, request: Request, key: str) -> Response:
        label = get_label(request.user, self._id(key))
        data = self.validated(LabelPatchSerializer, request)
        return Response({"label": with_count(request.user, modify(request.user, label, data))})

    @extend_schema(summary="Delete a label by name", responses={200: dict})
    def delete(self, request: Request, key: str) -> Response:
        label = visible_labels(request.user).filter(name=key).first()
        if label is None:
            raise not_found(f"Label {key} was not found in the datastore")
        delete(request.user, label)
        return Response({})


class LabelDeleteByIdView(FleetAPIView):
    @extend_schema(summary="Delete a label by id", responses={200: dict})
    def delete(self, request: Request, label_id: int) -> Response:
        delete(request.user, get_label(request.user, label_id))
        return Response({})


class LabelSummaryView(FleetAPIView):
    @extend_schema(summary="Every label, briefly", responses={200: dict})
    def get(self, request: Request) -> Response:
        rows = visible_labels(request.user).values("id", "name", "description", "label_type")
        return Response({"labels": list(rows)})


class LabelSpecSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)
    query = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    platform = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    label_membership_type = serializers.ChoiceField(
        choices=LabelMembershipType.values, required=False, default=LabelMembershipType.DYNAMIC
    )
    hosts = serializers.ListField(child=serializers.CharField(max_length=255), required=False, max_length=100_000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["name"] = attrs["name"].strip()
        if not attrs["name"]:
            raise serializers.ValidationError({"name": "label name cannot be empty"})
        if attrs["label_membership_type"] == LabelMembershipType.DYNAMIC:
            if attrs.get("hosts"):
                raise serializers.ValidationError({"hosts": "only manual labels take a list of hosts"})
            try:
                validate_read_only(attrs["query"])
            except SQLError as exc:
                raise serializers.ValidationError({"query": str(exc)}) from exc
        elif attrs["query"].strip():
            raise serializers.ValidationError({"query": "a manual label cannot have a query"})
        return attrs


class LabelSpecsSerializer(serializers.Serializer):
    specs = LabelSpecSerializer(many=True, allow_empty=True, max_length=10_000)


def _resolve_hosts(user: User, identifiers: list[str]) -> list[int]:
    """fleetctl names manual label hosts by hostname, UUID, serial or osquery identifier."""
    wanted = set(identifiers)
    matches = visible_hosts(user).filter(
        Q(hostname__in=wanted) | Q(uuid__in=wanted) | Q(hardware_serial__in=wanted) | Q(osquery_host_id__in=wanted)
    )
    found: dict[str, int] = {}
    for host in matches.only("id", "hostname", "uuid", "hardware_serial", "osquery_host_id"):
        for value in (host.hostname, host.uuid, host.hardware_serial, host.osquery_host_id):
            if value in wanted:
                found.setdefault(value, host.pk)
    unknown = [identifier for identifier in identifiers if identifier not in found]
    if unknown:
        raise validation_failed("hosts", f"unknown hosts: {', '.join(unknown[:10])}")
    return list(dict.fromkeys(found[identifier] for identifier in identifiers))


class LabelSpecView(FleetAPIView):
    """fleetctl's `apply`: create labels by name or update them; all or nothing."""

    @extend_schema(summary="Apply label specs", request=LabelSpecsSerializer, responses={200: dict})
    def post(self, request: Request) -> Response:
        specs = self.validated(LabelSpecsSerializer, request)["specs"]
        user = request.user
        if not permissions.can(user, permissions.Action.WRITE, permissions.Kind.LABEL, None):
            raise forbidden()
        names = [spec["name"] for spec in specs]
        if len(set(names)) != len(names):
            raise validation_failed("specs", "label names must be unique within the specs")
        existing = {label.name: label for label in Label.objects.filter(name__in=names)}
        with transaction.atomic():
            for spec in specs:
                self._apply(user, spec, existing.get(spec["name"]))
        return Response({})

    def _apply(self, user: User, spec: dict[str, Any], label: Label | None) -> None:
        manual = spec["label_membership_type"] == LabelMembershipType.MANUAL
        if label is None:
            label = Label.objects.create(
                name=spec["name"],
                description=spec["description"],
                query=spec["query"],
                platform=spec["platform"],
                label_type=LabelType.REGULAR,
                label_membership_type=spec["label_membership_type"],
                author=user,
            )
            activity = CREATED_LABEL
        else:
            if label.label_type == LabelType.BUILTIN:
                raise validation_failed("label_type", f"cannot modify built-in label '{label.name}'")
            if label.label_membership_type != spec["label_membership_type"]:
                raise validation_failed("label_membership_type", f"cannot change the type of label '{label.name}'")
            # fleetctl's apply is the desired state (Fleet updates the query too; PATCH cannot).
            label.description = spec["description"]
            if not manual:
                label.query, label.platform = spec["query"], spec["platform"]
            label.save()
            activity = EDITED_LABEL
        if manual and "hosts" in spec:
            label.hosts.set(_resolve_hosts(user, spec["hosts"]))
        record(user, activity, _details(label), team=label.team)
