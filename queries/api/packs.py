"""Legacy query packs REST API: packs, the queries scheduled in them, and pack specs (queries.packs)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import Action
from fleetsite.api.errors import not_found
from fleetsite.api.fields import MAX_ID
from fleetsite.api.pagination import page_from
from fleetsite.api.schema import EMPTY, listing, single
from fleetsite.api.views import FleetAPIView
from queries import packs, packspecs
from queries.models import Pack, PackQuery

PACK = single("PackBody", "pack")
SCHEDULED = single("PackScheduledBody", "scheduled")
SPEC = single("PackSpecBody", "specs")


def _pack_id(key: str) -> int:
    """The path's pack id; anything no row can have (not a number, beyond 64 bits) is Fleet's 404."""
    try:
        value = int(key)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_ID:
        raise not_found(f"Pack {key} was not found in the datastore")
    return value


def _read_pack(request: Request, pack_id: int) -> Pack:
    packs.require(request.user, Action.READ)
    return packs.get(pack_id)


class PackListView(FleetAPIView):
    @extend_schema(summary="List packs", responses={200: listing("PackList", "packs")})
    def get(self, request: Request) -> Response:
        packs.require(request.user, Action.READ)
        rows, _ = page_from(request).slice(packs.listed())
        return Response({"packs": [packs.pack_json(pack) for pack in rows]})

    @extend_schema(summary="Create a pack", request=packs.PackSerializer, responses={200: PACK})
    def post(self, request: Request) -> Response:
        pack = packs.create(request.user, self.validated(packs.PackSerializer, request))
        return Response({"pack": packs.pack_json(pack)})


class PackDetailView(FleetAPIView):
    """`GET|PATCH /packs/{id}` and Fleet's `DELETE /packs/{name}` share one path."""

    @extend_schema(summary="Get a pack", responses={200: PACK})
    def get(self, request: Request, key: str) -> Response:
        return Response({"pack": packs.pack_json(_read_pack(request, _pack_id(key)))})

    @extend_schema(summary="Modify a pack", request=packs.PackSerializer, responses={200: PACK})
    def patch(self, request: Request, key: str) -> Response:
        pack = _read_pack(request, _pack_id(key))
        pack = packs.update(request.user, pack, self.validated(packs.PackSerializer, request))
        return Response({"pack": packs.pack_json(pack)})

    @extend_schema(summary="Delete a pack by name", responses={200: EMPTY})
    def delete(self, request: Request, key: str) -> Response:
        packs.require(request.user, Action.READ)
        pack = Pack.objects.filter(name=key).first()
        if pack is None:
            raise not_found(f"Pack {key} was not found in the datastore")
        packs.delete(request.user, pack)
        return Response({})


class PackDeleteByIdView(FleetAPIView):
    @extend_schema(summary="Delete a pack by id", responses={200: EMPTY})
    def delete(self, request: Request, pack_id: int) -> Response:
        packs.delete(request.user, _read_pack(request, pack_id))
        return Response({})


class PackScheduledListView(FleetAPIView):
    @extend_schema(summary="List a pack's scheduled queries", responses={200: listing("PackScheduled", "scheduled")})
    def get(self, request: Request, pack_id: int) -> Response:
        pack = _read_pack(request, pack_id)
        rows, _ = page_from(request).slice(packs.scheduled_in(pack))
        return Response({"scheduled": [packs.scheduled_json(row) for row in rows]})


def schedule_in_pack(request: Request) -> Response:
    """`POST /packs/schedule` (and v1's `POST /schedule`)."""
    serializer = packs.PackQuerySerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return Response({"scheduled": packs.scheduled_json(packs.schedule(request.user, serializer.validated_data))})


def _read_scheduled(request: Request, scheduled_id: int) -> PackQuery:
    packs.require(request.user, Action.READ)
    return packs.get_scheduled(scheduled_id)


def get_in_pack(request: Request, scheduled_id: int) -> Response:
    return Response({"scheduled": packs.scheduled_json(_read_scheduled(request, scheduled_id))})


def modify_in_pack(request: Request, scheduled_id: int) -> Response:
    scheduled = _read_scheduled(request, scheduled_id)
    serializer = packs.PackQuerySerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    scheduled = packs.modify_scheduled(request.user, scheduled, serializer.validated_data)
    return Response({"scheduled": packs.scheduled_json(scheduled)})


def delete_in_pack(request: Request, scheduled_id: int) -> Response:
    packs.delete_scheduled(request.user, _read_scheduled(request, scheduled_id))
    return Response({})


class PackScheduleView(FleetAPIView):
    @extend_schema(summary="Schedule a query in a pack", request=packs.PackQuerySerializer, responses={200: SCHEDULED})
    def post(self, request: Request) -> Response:
        return schedule_in_pack(request)


class PackScheduleDetailView(FleetAPIView):
    @extend_schema(
        summary="Modify a query scheduled in a pack", request=packs.PackQuerySerializer, responses={200: SCHEDULED}
    )
    def patch(self, request: Request, scheduled_id: int) -> Response:
        return modify_in_pack(request, scheduled_id)

    @extend_schema(summary="Remove a query from a pack", responses={200: EMPTY})
    def delete(self, request: Request, scheduled_id: int) -> Response:
        return delete_in_pack(request, scheduled_id)


class PackSpecsView(FleetAPIView):
    @extend_schema(summary="Get pack specs", responses={200: listing("PackSpecList", "specs")})
    def get(self, request: Request) -> Response:
        return Response({"specs": packspecs.get_specs(request.user)})

    @extend_schema(summary="Apply pack specs", request=packspecs.PackSpecsSerializer, responses={200: EMPTY})
    def post(self, request: Request) -> Response:
        packspecs.apply(request.user, self.validated(packspecs.PackSpecsSerializer, request)["specs"])
        return Response({})


class PackSpecView(FleetAPIView):
    @extend_schema(summary="Get a pack spec by name", responses={200: SPEC})
    def get(self, request: Request, name: str) -> Response:
        return Response({"specs": packspecs.get_spec(request.user, name)})
