"""Carves REST API: list, inspect and download assembled carves (Fleet's `/carves` routes)."""

from __future__ import annotations

import base64

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions
from carves import storage
from carves.models import Carve
from carves.service import iter_file
from fleetsite.api.errors import bad_request, forbidden, not_found
from fleetsite.api.pagination import page_from
from fleetsite.api.schema import envelope, listing, single
from fleetsite.api.views import FleetAPIView
from hosts.api.serializers import rfc3339


def carve_json(carve: Carve) -> dict:
    return {
        "id": carve.pk,
        "host_id": carve.host_id,
        "name": carve.name,
        "block_count": carve.block_count,
        "block_size": carve.block_size,
        "carve_size": carve.carve_size,
        "carve_id": carve.carve_id,
        "request_id": carve.request_id,
        "session_id": carve.session_id,
        "expired": carve.expired,
        "max_block": carve.max_block,
        "error": carve.error,
        "created_at": rfc3339(carve.created_at),
    }


def visible_carves(request: Request):  # noqa: ANN201 - a Carve queryset
    """Carves are global admins' only: Fleet lets no other role retrieve carved files."""
    if not permissions.is_global_admin(request.user):
        raise forbidden()
    return Carve.objects.all()


def get_carve(request: Request, carve_id: int) -> Carve:
    carve = visible_carves(request).filter(pk=carve_id).first()
    if carve is None:
        raise not_found(f"Carve {carve_id} was not found in the datastore")
    return carve


class CarveListView(FleetAPIView):
    @extend_schema(
        summary="File carves (expired ones only with expired=true)",
        parameters=[
            OpenApiParameter("expired", bool),
            OpenApiParameter("page", int),
            OpenApiParameter("per_page", int),
        ],
        responses={200: listing("CarveList", "carves", paged=True)},
    )
    def get(self, request: Request) -> Response:
        queryset = visible_carves(request)
        if request.query_params.get("expired", "").lower() != "true":
            queryset = queryset.filter(expired=False)
        carves, meta = page_from(request).slice(queryset)
        return Response({"carves": [carve_json(carve) for carve in carves], "meta": meta})


class CarveDetailView(FleetAPIView):
    @extend_schema(summary="One file carve", responses={200: single("CarveDetail", "carve")})
    def get(self, request: Request, carve_id: int) -> Response:
        return Response({"carve": carve_json(get_carve(request, carve_id))})


class CarveBlockView(FleetAPIView):
    """`GET /carves/{id}/block/{block_id}` → `{"data": <base64>}`, as fleetctl fetches carves."""

    @extend_schema(
        summary="One block of a carve, base64", responses={200: envelope("CarveBlock", data=serializers.CharField())}
    )
    def get(self, request: Request, carve_id: int, block_id: int) -> Response:
        carve = get_carve(request, carve_id)
        data = storage.read_block(carve, block_id)
        if data is None:
            raise not_found(f"block {block_id} of carve {carve_id} was not found")
        return Response({"data": base64.b64encode(data).decode("ascii")})


class CarveDownloadView(FleetAPIView):
    """The whole carved archive in one streamed download, once every block has arrived."""

    @extend_schema(
        summary="The carved archive (tar), once complete",
        responses={(200, "application/x-tar"): OpenApiTypes.BINARY},
    )
    def get(self, request: Request, carve_id: int) -> StreamingHttpResponse:
        carve = get_carve(request, carve_id)
        if not carve.complete:
            raise bad_request(f"carve {carve_id} is incomplete: {carve.max_block + 1} of {carve.block_count} blocks")
        response = StreamingHttpResponse(iter_file(carve), content_type="application/x-tar")
        response["Content-Disposition"] = f'attachment; filename="{carve.name}.tar"'
        return response
