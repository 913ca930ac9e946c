"""Scripts REST API: run on a host, results, saved scripts per team, a host's scripts and queue."""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions
from accounts.permissions import Action, Kind
from fleetsite.api.errors import FleetAPIError, bad_request, forbidden, not_found
from fleetsite.api.fields import MAX_ID
from fleetsite.api.pagination import page_from
from fleetsite.api.schema import envelope, listing
from fleetsite.api.views import FleetAPIView
from hosts.api.serializers import rfc3339
from hosts.api.views import get_visible_host
from scripts import constants as c
from scripts import service
from scripts.api.serializers import ScriptRunSerializer, result_json, script_json
from scripts.models import Script, ScriptExecution
from scripts.validation import ScriptInvalid, decode_upload, names_for_platform
from software_installers import queue

RESULT = envelope(
    "ScriptResult",
    **{
        key: serializers.CharField(allow_null=True)
        for key in ("script_contents", "output", "message", "hostname", "execution_id", "created_at")
    },
    script_id=serializers.IntegerField(allow_null=True),
    exit_code=serializers.IntegerField(allow_null=True),
    host_timeout=serializers.BooleanField(),
    host_id=serializers.IntegerField(),
    runtime=serializers.IntegerField(),
)

# Not `envelope()`: one of Fleet's keys is `name`, that helper's own first argument.
SCRIPT = inline_serializer(
    name="Script",
    fields={
        "id": serializers.IntegerField(),
        "team_id": serializers.IntegerField(allow_null=True),
        "name": serializers.CharField(),
        "created_at": serializers.CharField(),
        "updated_at": serializers.CharField(),
    },
)


def team_param(request: Request, source: Any = None) -> int | None:
    """`team_id` (or `fleet_id`) from the query string or a form; 0 and absent mean "no team"."""
    raw = (source if source is not None else request.query_params).get("team_id")
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise bad_request(f"invalid team_id: {raw!r} is not an integer") from exc
    if value < 0 or value > MAX_ID:
        raise bad_request("invalid team_id: out of range")
    return value or None


def require_script_access(request: Request, action: str, team_id: int | None) -> None:
    """Fleet authorizes scripts by their team: 404 for a team the user cannot see, else 403 by role."""
    if team_id is not None and not permissions.can_read_team(request.user, team_id):
        raise not_found(f"Team {team_id} was not found in the datastore")
    if not permissions.can(request.user, action, Kind.SCRIPT, team_id):
        raise forbidden()


def get_script(request: Request, script_id: int, action: str) -> Script:
    script = Script.objects.filter(pk=script_id).first()
    if script is None or (script.team_id is not None and not permissions.can_read_team(request.user, script.team_id)):
        raise not_found(f"Script {script_id} was not found in the datastore")
    require_script_access(request, action, script.team_id)
    return script


def uploaded_script(request: Request) -> tuple[str, str]:
    """The multipart `script` file: (file name, text), refused as Fleet does when missing or binary."""
    upload = request.FILES.get("script")
    if upload is None:
        raise bad_request("no file headers for script")
    raw = upload.read(4 * c.SAVED_SCRIPT_MAX_CHARS + 1)
    if len(raw) > 4 * c.SAVED_SCRIPT_MAX_CHARS:
        raise FleetAPIError(422, "Validation Failed", c.SAVED_TOO_LARGE, name="script")
    try:
        text = decode_upload(raw)
    except ScriptInvalid as exc:
        raise FleetAPIError(422, "Validation Failed", str(exc), name="script") from exc
    return upload.name.rsplit("/", 1)[-1], text


class RunView(FleetAPIView):
    """`POST /scripts/run`: queue a script on a host; 202 with its execution id."""

    @extend_schema(
        summary="Run a script on a host (asynchronously)",
        request=ScriptRunSerializer,
        responses={
            202: envelope("ScriptRunQueued", host_id=serializers.IntegerField(), execution_id=serializers.CharField())
        },
    )
    def post(self, request: Request) -> Response:
        execution = service.run(request.user, self.validated(ScriptRunSerializer, request), sync=False)
        return Response({"host_id": execution.host_id, "execution_id": execution.execution_id}, status=202)


class RunSyncView(FleetAPIView):
    """`POST /scripts/run/sync`: queue, then wait for the host's answer; 408 when none comes in time."""

    @extend_schema(
        summary="Run a script on a host and wait for its result", request=ScriptRunSerializer, responses={200: RESULT}
    )
    def post(self, request: Request) -> Response:
        execution = service.run(request.user, self.validated(ScriptRunSerializer, request), sync=True)
        execution, timed_out = service.wait_for_result(execution)
        body = result_json(execution, timed_out)
        body.update(
            batch_execution_id=None,
            timeout=execution.timeout,
            policy_id=None,
            team_id=execution.host.team_id,
        )
        # Fleet answers a timeout with 408 (not 504), keeping the ids so the result can be looked up later.
        return Response(body, status=408 if timed_out else 200)


class ResultView(FleetAPIView):
    @extend_schema(summary="The result of one script execution", responses={200: RESULT})
    def get(self, request: Request, execution_id: str) -> Response:
        return Response(result_json(service.visible_execution(request.user, execution_id)))


class ScriptListView(FleetAPIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="Saved scripts of a team (no team_id: scripts of hosts with no team)",
        parameters=[OpenApiParameter("team_id", int), OpenApiParameter("page", int), OpenApiParameter("per_page", int)],
        responses={200: listing("ScriptList", "scripts", paged=True)},
    )
    def get(self, request: Request) -> Response:
        team_id = team_param(request)
        require_script_access(request, Action.READ, team_id)
        scripts, meta = page_from(request).slice(Script.objects.filter(team_key=team_id or 0).order_by("name", "id"))
        return Response({"scripts": [script_json(s) for s in scripts], "meta": meta})

    @extend_schema(
        summary="Upload a saved script (multipart: `script` file, `team_id`)",
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"script": {"type": "string", "format": "binary"}, "team_id": {"type": "integer"}},
            }
        },
        responses={200: envelope("ScriptCreated", script_id=serializers.IntegerField())},
    )
    def post(self, request: Request) -> Response:
        form = request.data.copy()
        if "fleet_id" in form and "team_id" not in form:
            form["team_id"] = form["fleet_id"]
        team_id = team_param(request, form)
        require_script_access(request, Action.WRITE, team_id)
        name, contents = uploaded_script(request)
        return Response({"script_id": service.create(request.user, team_id, name, contents).pk})


class ScriptDetailView(FleetAPIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="One saved script (`?alt=media` downloads its contents)",
        parameters=[OpenApiParameter("alt", str, enum=["media"])],
        responses={200: SCRIPT, (200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    def get(self, request: Request, script_id: int) -> Response | HttpResponse:
        script = get_script(request, script_id, Action.READ)
        if request.query_params.get("alt") == "media":
            response = HttpResponse(script.contents.encode("utf-8"), content_type="application/octet-stream")
            response["Content-Disposition"] = f'attachment;filename="{timezone.now().date().isoformat()} {script.name}"'
            response["X-Content-Type-Options"] = "nosniff"
            return response
        return Response(script_json(script))

    @extend_schema(
        summary="Replace a saved script's contents (multipart: `script` file)",
        request={
            "multipart/form-data": {"type": "object", "properties": {"script": {"type": "string", "format": "binary"}}}
        },
        responses={200: envelope("ScriptUpdated", script_id=serializers.IntegerField())},
    )
    def patch(self, request: Request, script_id: int) -> Response:
        script = get_script(request, script_id, Action.WRITE)
        _, contents = uploaded_script(request)
        return Response({"script_id": service.update(request.user, script, contents).pk})

    @extend_schema(summary="Delete a saved script", responses={204: None})
    def delete(self, request: Request, script_id: int) -> Response:
        service.delete(request.user, get_script(request, script_id, Action.WRITE))
        return Response(status=204)


class BatchSetView(FleetAPIView):
    """`POST /scripts/batch`: gitops sets a team's scripts to exactly the given list."""

    @extend_schema(
        summary="Replace a team's saved scripts (gitops)",
        parameters=[
            OpenApiParameter("team_id", int),
            OpenApiParameter("team_name", str),
            OpenApiParameter("dry_run", bool),
        ],
        request=dict,
        responses={200: listing("ScriptBatchSet", "scripts")},
    )
    def post(self, request: Request) -> Response:
        from accounts.models import Team
        from fleetsite.api.views import flag
        from scripts.api.serializers import BatchSetSerializer

        team_id, name = team_param(request), request.query_params.get("team_name")
        if team_id is not None and name:
            raise FleetAPIError(422, "Validation Failed", "cannot specify both team_id and team_name", name="team_name")
        dry_run = flag(request, "dry_run")
        team = None
        if team_id is not None or name:
            team = Team.objects.filter(Q(pk=team_id) if team_id is not None else Q(name=name)).first()
            if team is None or not permissions.can_read_team(request.user, team.pk):
                if dry_run and team is None:
                    return Response({"scripts": []})
                raise not_found("Team was not found in the datastore")
        require_script_access(request, Action.WRITE, team.pk if team else None)
        payloads = self.validated(BatchSetSerializer, request)["scripts"]
        saved = service.batch_set(request.user, team, payloads, dry_run)
        return Response({"scripts": [{"team_id": s.team_id, "id": s.pk, "name": s.name} for s in saved]})


def _last_execution(field: str, host_id: int) -> Subquery:
    latest = ScriptExecution.objects.filter(script=OuterRef("pk"), host_id=host_id).order_by("-created_at", "-id")
    return Subquery(latest.values(field)[:1])


class HostScriptsView(FleetAPIView):
    """`GET /hosts/{id}/scripts`: the saved scripts a host can run, each with its last execution there."""

    @extend_schema(
        summary="A host's scripts with their last execution",
        parameters=[OpenApiParameter("page", int), OpenApiParameter("per_page", int)],
        responses={200: listing("HostScriptList", "scripts", paged=True)},
    )
    def get(self, request: Request, host_id: int) -> Response:
        host = get_visible_host(request, host_id)
        if not permissions.can(request.user, Action.READ, Kind.SCRIPT, host.team_id):
            raise forbidden()
        endings = Q(pk__in=[])
        for ending in names_for_platform(host.platform):
            endings |= Q(name__iendswith=ending)
        queryset: QuerySet = (
            Script.objects.filter(endings, team_key=host.team_id or 0)
            .annotate(
                last_execution_id=_last_execution("execution_id", host.pk),
                last_created_at=_last_execution("created_at", host.pk),
                last_exit_code=_last_execution("exit_code", host.pk),
            )
            .order_by("name", "id")
        )
        rows, meta = page_from(request).slice(queryset)
        scripts = []
        for script in rows:
            last = None
            if script.last_execution_id:
                code = script.last_exit_code
                last = {
                    "execution_id": script.last_execution_id,
                    "executed_at": rfc3339(script.last_created_at),
                    "status": "pending" if code is None else ("ran" if code == 0 else "error"),
                }
            scripts.append({"script_id": script.pk, "name": script.name, "last_execution": last})
        return Response({"scripts": scripts, "meta": meta})


def upcoming_json(execution: ScriptExecution) -> dict[str, Any]:
    """An upcoming activity as Fleet lists it: a `ran_script` activity that has not happened yet."""
    user = execution.user
    return {
        "uuid": execution.execution_id,
        "type": "ran_script",
        "created_at": rfc3339(execution.created_at),
        "actor_id": execution.user_id,
        "actor_full_name": getattr(user, "name", None) or None,
        "actor_email": getattr(user, "email", None) or None,
        "actor_gravatar": "",
        "fleet_initiated": user is None,
        "details": {
            "host_id": execution.host_id,
            "host_display_name": execution.host.display_name,
            "script_name": execution.script.name if execution.script else "",
            "script_execution_id": execution.execution_id,
            "async": not execution.sync_request,
            "policy_id": None,
            "policy_name": None,
            "batch_execution_id": execution.batch.batch_execution_id if execution.batch else None,
        },
    }


class HostUpcomingView(FleetAPIView):
    """`GET /hosts/{id}/activities/upcoming`: the host's queue, the one being run first."""

    @extend_schema(
        summary="A host's upcoming activities (queued scripts)",
        parameters=[OpenApiParameter("page", int), OpenApiParameter("per_page", int)],
        responses={
            200: envelope(
                "UpcomingList",
                count=serializers.IntegerField(),
                activities=serializers.ListField(),
                meta=serializers.DictField(),
            )
        },
    )
    def get(self, request: Request, host_id: int) -> Response:
        host = get_visible_host(request, host_id)
        # Scripts and software installs share the queue (software_installers/queue.py).
        keys, meta = page_from(request).slice(queue.upcoming_keys(host.pk))
        activities = queue.render_upcoming(keys, upcoming_json)
        return Response({"count": queue.upcoming_count(host.pk), "activities": activities, "meta": meta})


class HostUpcomingDetailView(FleetAPIView):
    @extend_schema(summary="Cancel an upcoming activity (a queued script)", responses={204: None})
    def delete(self, request: Request, host_id: int, activity_id: str) -> Response:
        host = get_visible_host(request, host_id)
        if not permissions.can(request.user, Action.WRITE, Kind.SCRIPT, host.team_id):
            raise forbidden()
        if not queue.cancel_install(request.user, host, activity_id):
            service.cancel(request.user, host, activity_id)
        return Response(status=204)
