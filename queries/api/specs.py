"""Spec routes for queries (also `/spec/reports`), policies and label reads: what `fleetctl apply/get/gitops` call.

The rules live in `queries.specs` and `queries.labels`; these views only read the request.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from fleetsite.api.schema import EMPTY, listing, single
from fleetsite.api.views import FleetAPIView
from queries import labels, specs
from queries.api.queries import team_param


class QuerySpecsView(FleetAPIView):
    @extend_schema(
        summary="Get query specs (one team's, or the global ones)", responses={200: listing("QuerySpecList", "specs")}
    )
    def get(self, request: Request) -> Response:
        return Response({"specs": specs.get_query_specs(request.user, team_param(request))})

    @extend_schema(summary="Apply query specs", request=specs.QuerySpecsSerializer, responses={200: EMPTY})
    def post(self, request: Request) -> Response:
        specs.apply_queries(request.user, self.validated(specs.QuerySpecsSerializer, request)["specs"])
        return Response({})


class QuerySpecView(FleetAPIView):
    @extend_schema(summary="Get a query spec by name", responses={200: single("QuerySpecBody", "specs")})
    def get(self, request: Request, name: str) -> Response:
        return Response({"specs": specs.get_query_spec(request.user, name, team_param(request))})


class PolicySpecsView(FleetAPIView):
    @extend_schema(summary="Apply policy specs", request=specs.PolicySpecsSerializer, responses={200: EMPTY})
    def post(self, request: Request) -> Response:
        specs.apply_policies(request.user, self.validated(specs.PolicySpecsSerializer, request)["specs"])
        return Response({})


class LabelSpecDetailView(FleetAPIView):
    @extend_schema(summary="Get a label spec by name", responses={200: single("LabelSpecBody", "specs")})
    def get(self, request: Request, name: str) -> Response:
        return Response({"specs": labels.get_spec(request.user, name)})
