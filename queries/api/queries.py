"""Saved queries REST API (fleet-protocol §4.4), also under Fleet 4.8x's `/reports` names.

Responses carry both the classic and the renamed keys (`query`/`report`, `queries`/`reports`,
`inherited_query_count`/`inherited_report_count`), as Fleet 4.8x does.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from fleetsite.api.errors import bad_request, not_found
from fleetsite.api.fields import ObjectIdField
from fleetsite.api.pagination import page_from
from fleetsite.api.schema import EMPTY, PAGE_META, envelope
from fleetsite.api.views import FleetAPIView, flag
from queries import saved
from queries.filtersets import QueryFilterSet
from queries.models import Query

# Queries are also sent as "reports", Fleet's newer name for them (the renderer adds those keys).
QUERY_BODY = envelope("QueryDetail", query=serializers.DictField(), report=serializers.DictField())
QUERY_LIST = envelope(
    "QueryList",
    queries=serializers.ListField(child=serializers.DictField()),
    reports=serializers.ListField(child=serializers.DictField()),
    count=serializers.IntegerField(),
    inherited_query_count=serializers.IntegerField(),
    meta=envelope("PageMeta", **PAGE_META),
)


def one(query: Query) -> dict[str, Any]:
    body = saved.query_json(query)
    return {"query": body}


def team_param(request: Request) -> int | None:
    """`team_id` (or Fleet 4.8's `fleet_id`, read as it) from the query string; absent or 0 means global."""
    raw = request.query_params.get("team_id") or ""
    if raw == "":
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise bad_request(f"invalid team_id: {raw!r} is not an integer") from exc
    if value < 0:
        raise bad_request("invalid team_id: must not be negative")
    return value or None


class QueryListView(FleetAPIView):
    filterset_class = QueryFilterSet

    @extend_schema(summary="List saved queries", responses={200: QUERY_LIST})
    def get(self, request: Request) -> Response:
        team_id = team_param(request)
        merge = flag(request, "merge_inherited")
        queryset: QuerySet = self.filter_queryset(request, saved.listed(request.user, team_id, merge))
        page = page_from(request)
        rows, meta = page.slice(queryset)
        inherited = queryset.filter(team__isnull=True).count() if team_id is not None and merge else 0
        bodies = [saved.query_json(query) for query in rows]
        return Response(
            {
                "queries": bodies,
                "count": queryset.count(),
                "inherited_query_count": inherited,
                "meta": meta,
            }
        )

    @extend_schema(summary="Create a saved query", request=saved.QuerySerializer, responses={200: QUERY_BODY})
    def post(self, request: Request) -> Response:
        data = self.validated(saved.QuerySerializer, request)
        return Response(one(saved.create(request.user, data)))


def _query_id(key: str) -> int:
    try:
        return int(key)
    except ValueError as exc:
        raise not_found(f"Query {key} was not found in the datastore") from exc


class QueryDetailView(FleetAPIView):
    """`GET|PATCH /queries/{id}` and Fleet's `DELETE /queries/{name}?team_id=` share one path."""

    @extend_schema(summary="Get a saved query", responses={200: QUERY_BODY})
    def get(self, request: Request, key: str) -> Response:
        return Response(one(saved.get_readable(request.user, _query_id(key))))

    @extend_schema(summary="Modify a saved query", request=saved.QuerySerializer, responses={200: QUERY_BODY})
    def patch(self, request: Request, key: str) -> Response:
        query = saved.get_readable(request.user, _query_id(key))
        serializer = saved.QuerySerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        return Response(one(saved.update(request.user, query, serializer.validated_data)))

    @extend_schema(summary="Delete a saved query by name", responses={200: EMPTY})
    def delete(self, request: Request, key: str) -> Response:
        team_id = team_param(request)
        saved.visible_team(request.user, team_id)
        query = saved.readable_queries(request.user).filter(team_key=team_id or 0, name=key).first()
        if query is None:
            raise not_found(f"Query {key} was not found in the datastore")
        saved.delete(request.user, [query])
        return Response({})


class QueryDeleteByIdView(FleetAPIView):
    @extend_schema(summary="Delete a saved query by id", responses={200: EMPTY})
    def delete(self, request: Request, query_id: int) -> Response:
        saved.delete(request.user, [saved.get_readable(request.user, query_id)])
        return Response({})


class DeleteIdsSerializer(serializers.Serializer):
    ids = serializers.ListField(child=ObjectIdField(), allow_empty=False, max_length=10_000)


class QueryBatchDeleteView(FleetAPIView):
    @extend_schema(
        summary="Delete saved queries by id",
        request=DeleteIdsSerializer,
        responses={200: envelope("DeletedCount", deleted=serializers.IntegerField())},
    )
    def post(self, request: Request) -> Response:
        ids = list(dict.fromkeys(self.validated(DeleteIdsSerializer, request)["ids"]))
        queries = list(saved.readable_queries(request.user).filter(pk__in=ids))
        missing = sorted(set(ids) - {query.pk for query in queries})
        if missing:
            raise not_found(f"Query {missing[0]} was not found in the datastore")
        return Response({"deleted": saved.delete(request.user, queries)})
