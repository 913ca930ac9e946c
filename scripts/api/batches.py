"""Batch runs REST API: one saved script on many hosts, its progress, per-host results, cancel."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions
from accounts.permissions import Action
from fleetsite.api.errors import FleetAPIError, bad_request, not_found, validation_failed
from fleetsite.api.pagination import page_from
from fleetsite.api.schema import EMPTY, envelope
from fleetsite.api.views import FleetAPIView
from hosts.api.serializers import rfc3339
from hosts.api.views import hosts_by_filters, visible_hosts
from scripts import constants as c
from scripts import service
from scripts.api.serializers import ScriptBatchRunSerializer, batch_json
from scripts.api.views import BatchSetView, get_script, require_script_access, team_param
from scripts.choices import BatchHostStatus, BatchStatus
from scripts.models import BatchExecution, BatchHost

# Characters of each host's output in the host-results list.
OUTPUT_PREVIEW = 100


def get_batch(request: Request, batch_execution_id: str, action: str = Action.READ) -> BatchExecution:
    batch = BatchExecution.objects.filter(batch_execution_id=batch_execution_id).first()
    if batch is None or (batch.team_id is not None and not permissions.can_read_team(request.user, batch.team_id)):
        raise not_found(f"Batch execution {batch_execution_id} was not found in the datastore")
    require_script_access(request, action, batch.team_id)
    return batch


class BatchRunView(FleetAPIView):
    """`POST /scripts/run/batch`: a saved script on `host_ids` or the hosts matching `filters`."""

    @extend_schema(
        summary="Run a saved script on many hosts",
        request=ScriptBatchRunSerializer,
        responses={200: envelope("ScriptBatchRunStarted", batch_execution_id=serializers.CharField())},
    )
    def post(self, request: Request) -> Response:
        data = self.validated(ScriptBatchRunSerializer, request)
        service.check_enabled()
        script = get_script(request, data["script_id"], Action.WRITE)
        if data.get("host_ids"):
            ids = set(data["host_ids"])
            hosts = list(visible_hosts(request).filter(pk__in=ids)[: c.MAX_BATCH_HOSTS + 1])
            if len(hosts) != len(ids):
                raise not_found("one or more hosts were not found in the datastore")
        else:
            hosts = list(hosts_by_filters(request, data["filters"])[: c.MAX_BATCH_HOSTS + 1])
        if not hosts:
            raise validation_failed("host_ids", "no hosts to run the script on")
        if len(hosts) > c.MAX_BATCH_HOSTS:
            raise validation_failed("host_ids", f"a batch run targets at most {c.MAX_BATCH_HOSTS} hosts")
        if any(host.team_id != script.team_id for host in hosts):
            raise validation_failed("host_ids", "all hosts must be on the same team as the script")
        batch = service.run_batch(request.user, script, hosts, data.get("not_before"))
        return Response({"batch_execution_id": batch.batch_execution_id})


class BatchListView(FleetAPIView):
    @extend_schema(
        summary="Batch runs of a team",
        parameters=[
            OpenApiParameter("team_id", int, required=True),
            OpenApiParameter("status", str, enum=[s.value for s in BatchStatus]),
            OpenApiParameter("page", int),
            OpenApiParameter("per_page", int),
        ],
        responses={
            200: envelope(
                "BatchList",
                batch_executions=serializers.ListField(child=serializers.DictField()),
                count=serializers.IntegerField(),
                meta=serializers.DictField(),
            )
        },
    )
    def get(self, request: Request) -> Response:
        if request.query_params.get("team_id") in (None, ""):
            raise bad_request("team_id is required")
        team_id = team_param(request)
        require_script_access(request, Action.READ, team_id)
        queryset: QuerySet = BatchExecution.objects.filter(team_id=team_id)
        status = request.query_params.get("status")
        if status:
            if status not in BatchStatus.values:
                raise bad_request(f"invalid status: must be one of {', '.join(BatchStatus.values)}")
            queryset = queryset.filter(status=status)
        rows, meta = page_from(request).slice(queryset)
        batches = [batch_json(batch, service.batch_counts(batch)) for batch in rows]
        return Response({"batch_executions": batches, "count": queryset.count(), "meta": meta})


class BatchDetailView(FleetAPIView):
    @extend_schema(summary="One batch run and its host counts", responses={200: dict})
    def get(self, request: Request, batch_execution_id: str) -> Response:
        batch = get_batch(request, batch_execution_id)
        return Response(batch_json(batch, service.batch_counts(batch)))


class BatchSummaryView(FleetAPIView):
    """Fleet's deprecated summary, still used by older UIs and fleetctl."""

    @extend_schema(summary="A batch run's host counts (deprecated in Fleet)", responses={200: dict})
    def get(self, request: Request, batch_execution_id: str) -> Response:
        batch = get_batch(request, batch_execution_id)
        counts = service.batch_counts(batch)
        return Response(
            {
                "script_id": batch.script_id,
                "script_name": batch.script_name,
                "team_id": batch.team_id,
                "created_at": rfc3339(batch.created_at),
                "targeted": counts["targeted"],
                "ran": counts["ran"],
                "pending": counts["pending"],
                "errored": counts["errored"],
                "incompatible": counts["incompatible"],
                "canceled": counts["canceled"],
            }
        )


def host_result_json(row: BatchHost, status: str) -> dict[str, Any]:
    execution, host = row.execution, row.host
    data: dict[str, Any] = {
        "id": row.host_id,
        "display_name": host.display_name if host else "",
        "script_execution_id": execution.execution_id if execution else "",
        "script_status": status,
    }
    if execution is not None and execution.exit_code is not None:
        data["script_output_preview"] = execution.output[:OUTPUT_PREVIEW]
        data["script_executed_at"] = rfc3339(execution.updated_at)
    return data


class BatchHostResultsView(FleetAPIView):
    @extend_schema(
        summary="The hosts of a batch run in one state",
        parameters=[
            OpenApiParameter("status", str, enum=[s.value for s in BatchHostStatus], required=True),
            OpenApiParameter("page", int),
            OpenApiParameter("per_page", int),
        ],
        responses={
            200: envelope(
                "BatchHostResults",
                hosts=serializers.ListField(child=serializers.DictField()),
                count=serializers.IntegerField(),
                meta=serializers.DictField(),
            )
        },
    )
    def get(self, request: Request, batch_execution_id: str) -> Response:
        batch = get_batch(request, batch_execution_id)
        status = request.query_params.get("status") or ""
        if status not in BatchHostStatus.values:
            raise bad_request(f"invalid status: must be one of {', '.join(BatchHostStatus.values)}")
        queryset = (
            batch.hosts.filter(service.host_status_filter(status)).select_related("host", "execution").order_by("id")
        )
        rows, meta = page_from(request).slice(queryset)
        hosts = [host_result_json(row, status) for row in rows]
        return Response({"hosts": hosts, "count": queryset.count(), "meta": meta})


class BatchCancelView(FleetAPIView):
    @extend_schema(summary="Cancel a batch run's pending hosts", request=None, responses={200: EMPTY})
    def post(self, request: Request, batch_execution_id: str) -> Response:
        batch = get_batch(request, batch_execution_id, Action.WRITE)
        if batch.status == BatchStatus.FINISHED:
            raise FleetAPIError(
                409, "Validation Failed", "the batch run has already finished", name="batch_execution_id"
            )
        service.cancel_batch(request.user, batch)
        return Response({})


class ScriptBatchView(BatchSetView, BatchListView):
    """`/scripts/batch`: Fleet mounts gitops' batch set (POST) and the batch-run list (GET) on one path."""
