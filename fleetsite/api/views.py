"""Base REST views with Fleet's envelopes and filters applied in the database."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.views import APIView

from fleetsite.api.errors import FleetAPIError


class FleetAPIView(APIView):
    """An APIView whose filter errors come back as Fleet's 400 body."""

    filterset_class: Any = None

    def filter_queryset(self, request: Request, queryset: QuerySet) -> QuerySet:
        if self.filterset_class is None:
            return queryset
        filterset = self.filterset_class(request.query_params, queryset=queryset, request=request)
        if not filterset.is_valid():
            name, messages = next(iter(filterset.errors.items()))
            raise FleetAPIError(400, "Bad request", f"invalid {name}: {' '.join(messages)}", name=name)
        return filterset.qs
