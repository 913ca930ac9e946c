"""Base REST views with Fleet's envelopes and filters applied in the database."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts import permissions
from fleetsite.api.aliases import alias_query
from fleetsite.api.errors import FleetAPIError, forbidden, not_found
from fleetsite.api.fields import MAX_ID


class JSONOnlyNegotiation(DefaultContentNegotiation):
    """Fleet answers JSON whatever `?format=` says; `format=csv` is a parameter of some endpoints, not DRF's."""

    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None) -> tuple:
        return renderers[0], renderers[0].media_type


def reject_ids_beyond_rows(path_kwargs: dict[str, Any]) -> None:
    """404 for an `<int:…>` path id no row can have, before any view binds it in SQL.

    Row ids are signed 64-bit on every backend; a larger number makes the database driver raise
    (SQLite: OverflowError) instead of finding nothing.
    """
    for name, value in path_kwargs.items():
        if isinstance(value, int) and value > MAX_ID:
            raise not_found(f"{name} {value} was not found in the datastore")


class FleetAPIView(APIView):
    """An APIView whose filter errors come back as Fleet's 400 body, with permission helpers."""

    filterset_class: Any = None
    content_negotiation_class = JSONOnlyNegotiation

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Fleet 4.8's `fleet_id` is `team_id` for every view (fleetsite/api/aliases.py).
        request._request.GET = alias_query(request._request.GET)
        super().initial(request, *args, **kwargs)
        reject_ids_beyond_rows(kwargs)

    def filter_queryset(self, request: Request, queryset: QuerySet) -> QuerySet:
        if self.filterset_class is None:
            return queryset
        filterset = self.filterset_class(request.query_params, queryset=queryset, request=request)
        if not filterset.is_valid():
            name, messages = next(iter(filterset.errors.items()))
            raise FleetAPIError(400, "Bad request", f"invalid {name}: {' '.join(messages)}", name=name)
        return filterset.qs

    def require(self, request: Request, action: str, kind: str, team_id: int | None = None) -> None:
        """403 unless the permission table allows it (visibility, a 404, is the caller's job first)."""
        if not permissions.can(request.user, action, kind, team_id):
            raise forbidden()

    @staticmethod
    def validated(serializer_class: type[serializers.Serializer], request: Request, **kwargs: Any) -> dict[str, Any]:
        """The request body checked by `serializer_class`; bad input is Fleet's 422 with field names."""
        serializer = serializer_class(data=request.data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


def flag(request: Request, name: str) -> bool:
    """A boolean query parameter as Fleet reads them (`true`/`1`)."""
    return request.query_params.get(name, "").lower() in ("true", "1", "yes")
