"""Secret variables REST: gitops's `PUT /spec/secret_variables`, and the UI's `/custom_variables` list, add, delete.

Values go in and never come out: lists show names and update times only.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from fleetsite.api.errors import bad_request
from fleetsite.api.pagination import page_from
from fleetsite.api.schema import EMPTY, PAGE_META, envelope
from fleetsite.api.views import FleetAPIView, flag
from hosts.api.serializers import rfc3339
from variables import service

# `envelope()` takes the schema name as `name`, which is also a key of this body.
CREATED = inline_serializer(
    "CustomVariable", fields={"id": serializers.IntegerField(), "name": serializers.CharField()}
)


class SecretVariablesSpecView(FleetAPIView):
    @extend_schema(summary="Create or update secret variables (gitops)", request=dict, responses={200: EMPTY})
    def put(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise bad_request("the body must be a JSON object")
        dry_run = request.data.get("dry_run") is True or flag(request, "dry_run")
        service.upsert(request.user, request.data.get("secrets"), dry_run=dry_run)
        return Response({})


class CustomVariablesView(FleetAPIView):
    @extend_schema(
        summary="List custom variables (names only)",
        responses={
            200: envelope(
                "CustomVariableList",
                custom_variables=serializers.ListField(child=serializers.DictField()),
                count=serializers.IntegerField(),
                meta=envelope("PageMeta", **PAGE_META),
            )
        },
    )
    def get(self, request: Request) -> Response:
        queryset = service.listed(request.user)
        rows, meta = page_from(request).slice(queryset)
        items = [{"id": row.pk, "name": row.name, "updated_at": rfc3339(row.updated_at)} for row in rows]
        return Response({"custom_variables": items, "count": queryset.count(), "meta": meta})

    @extend_schema(
        summary="Add a custom variable",
        request=dict,
        responses={200: CREATED},
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise bad_request("the body must be a JSON object")
        row = service.create(request.user, request.data.get("name"), request.data.get("value"))
        return Response({"id": row.pk, "name": row.name})


class CustomVariableDetailView(FleetAPIView):
    @extend_schema(summary="Delete a custom variable", responses={200: EMPTY})
    def delete(self, request: Request, variable_id: int) -> Response:
        service.delete(request.user, variable_id)
        return Response({})
