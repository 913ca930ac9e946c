"""Server routes: `GET /version` (who is answering) and `POST /trigger` (run a cron schedule now)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import is_global_admin
from fleetsite import version
from fleetsite.api.errors import forbidden, not_found
from fleetsite.api.schema import EMPTY, envelope
from fleetsite.api.views import FleetAPIView

# Fleet's cron schedule names (server/fleet/cron_schedules.go) -> the beat jobs
# (settings.CELERY_BEAT_SCHEDULE) that do that schedule's work here. Fleet's other schedules
# (vulnerabilities, usage_statistics, integrations, calendar, MDM ...) do not run here, so
# naming them is Fleet's unknown-name 404, as on a Fleet server that did not register them.
FLEET_SCHEDULES: dict[str, tuple[str, ...]] = {
    # Fleet: campaigns, incoming hosts, carves, expired hosts, query results, then aggregates.
    "cleanups_then_aggregation": (
        "cleanup-campaigns",
        "expire-carves",
        "expire-hosts",
        "enforce-report-retention",
        "expire-pending-scripts",
        "refresh-policy-counts",
    ),
    # Fleet: short-lived state (live query and device token leftovers, stale artifacts).
    "frequent_cleanups": ("expire-device-tokens", "expire-packages"),
    # Fleet: failing-policy and host-status webhooks.
    "automations": ("failing-policies-webhook",),
}


def supported_names_message() -> str:
    """Fleet's text listing the trigger names, word for word in its format."""
    names = sorted(FLEET_SCHEDULES)
    if not names:
        return "no supported triggers"
    if len(names) == 1:
        return f"supported trigger name is {names[0]}"
    return f"supported trigger names are {', '.join(names[:-1])}, and {names[-1]}"


def queue_schedule(name: str) -> list[str]:
    """Queue the beat jobs of Fleet schedule `name` after the transaction commits; returns their names."""
    from fleetsite.celery import app

    app.loader.import_default_modules()  # apps' tasks.py register their tasks
    jobs = FLEET_SCHEDULES[name]
    for job in jobs:
        entry = settings.CELERY_BEAT_SCHEDULE[job]
        task = app.tasks[entry["task"]]
        options = dict(entry.get("options", {}))
        transaction.on_commit(lambda task=task, options=options: task.apply_async(**options))
    return list(jobs)


class TriggerView(FleetAPIView):
    """`POST /trigger?name=<schedule>`: Fleet's ad-hoc run of a cron schedule (global admins)."""

    @extend_schema(
        summary="Run a cron schedule now",
        parameters=[OpenApiParameter("name", str, description="Fleet's schedule name", required=True)],
        request=None,
        responses={200: EMPTY},
    )
    def post(self, request: Request) -> Response:
        # Fleet authorizes cron_schedules write before looking at the name: only global admins.
        if not is_global_admin(request.user):
            raise forbidden()
        name = request.query_params.get("name", "")
        if name not in FLEET_SCHEDULES:
            raise not_found(f"invalid name; {supported_names_message()}")
        queue_schedule(name)
        return Response({})


VERSION_INFO = envelope(
    "VersionInfo",
    **{
        key: serializers.CharField()
        for key in ("version", "branch", "revision", "go_version", "build_date", "build_user")
    },
)


class VersionView(FleetAPIView):
    """`GET /api/*/fleet/version`: signed in, as in Fleet (fleetctl calls it to check its token too)."""

    @extend_schema(summary="This server's version", responses={200: VERSION_INFO})
    def get(self, request: Request) -> Response:
        return Response(version.info())
