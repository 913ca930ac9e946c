"""Labels REST beyond list and create (fleet-protocol §4.6): get, modify, delete, summary and `POST /spec/labels`.

The rules (visibility, built-in labels, immutable queries) live in `queries.labels`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Team, User
from fleetsite.api.errors import not_found
from fleetsite.api.schema import EMPTY, listing, single
from fleetsite.api.views import FleetAPIView
from hosts.api.views import label_json
from hosts.choices import LabelMembershipType
from hosts.labels import host_counts
from hosts.models import Label
from queries import labels, saved
from queries.api.queries import team_param
from queries.sql import SQLError, validate_read_only


def with_count(user: User, label: Label) -> dict[str, Any]:
    """Label JSON with `host_count`/`count` over the hosts this user sees."""
    return label_json(label, host_counts(user, [label.pk]).get(label.pk, 0))


class LabelPatchSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    query = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    platform = serializers.CharField(required=False, allow_blank=True, max_length=255)
    host_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=100_000)


class LabelDetailView(FleetAPIView):
    """`GET|PATCH /labels/{id}` and `DELETE /labels/{name}` share one path, as in Fleet."""

    @staticmethod
    def _id(key: str) -> int:
        try:
            return int(key)
        except ValueError as exc:
            raise not_found(f"Label {key} was not found in the datastore") from exc

    @extend_schema(summary="Get a label", responses={200: single("LabelDetail", "label")})
    def get(self, request: Request, key: str) -> Response:
        return Response({"label": with_count(request.user, labels.get_label(request.user, self._id(key)))})

    @extend_schema(
        summary="Modify a label", request=LabelPatchSerializer, responses={200: single("LabelDetail", "label")}
    )
    def patch(self, request: Request, key: str) -> Response:
        label = labels.get_label(request.user, self._id(key))
        data = self.validated(LabelPatchSerializer, request)
        return Response({"label": with_count(request.user, labels.modify(request.user, label, data))})

    @extend_schema(summary="Delete a label by name", responses={200: EMPTY})
    def delete(self, request: Request, key: str) -> Response:
        label = labels.visible_labels(request.user).filter(name=key).first()
        if label is None:
            raise not_found(f"Label {key} was not found in the datastore")
        labels.delete(request.user, label)
        return Response({})


class LabelDeleteByIdView(FleetAPIView):
    @extend_schema(summary="Delete a label by id", responses={200: EMPTY})
    def delete(self, request: Request, label_id: int) -> Response:
        labels.delete(request.user, labels.get_label(request.user, label_id))
        return Response({})


class LabelSummaryView(FleetAPIView):
    @extend_schema(summary="Every label, briefly", responses={200: listing("LabelSummaryList", "labels")})
    def get(self, request: Request) -> Response:
        rows = labels.visible_labels(request.user).values("id", "name", "description", "label_type")
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
    names_to_move = serializers.ListField(
        child=serializers.CharField(max_length=255), required=False, allow_null=True, max_length=10_000
    )


LABEL_SPECS = listing("LabelSpecList", "specs")


class LabelSpecView(FleetAPIView):
    """fleetctl's `apply` and `get labels`: create by name or update, all or nothing."""

    @extend_schema(summary="Get label specs (a team's with team_id)", responses={200: LABEL_SPECS})
    def get(self, request: Request) -> Response:
        return Response({"specs": labels.get_specs(request.user, _team(request))})

    @extend_schema(summary="Apply label specs", request=LabelSpecsSerializer, responses={200: EMPTY})
    def post(self, request: Request) -> Response:
        data = self.validated(LabelSpecsSerializer, request)
        labels.apply_specs(request.user, data["specs"], _team(request), data.get("names_to_move") or [])
        return Response({})


def _team(request: Request) -> Team | None:
    """`?team_id=` (or `fleet_id`): gitops applies a team file's labels to that team."""
    return saved.visible_team(request.user, team_param(request))
