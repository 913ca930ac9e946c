"""Script JSON in Fleet's shapes, and the request bodies the REST API accepts."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.fields import ProhibitNullCharactersValidator

from fleetsite.api.fields import MAX_ID, ObjectIdField
from hosts.api.serializers import rfc3339
from scripts import constants as c
from scripts import service
from scripts.models import BatchExecution, Script, ScriptExecution


def script_json(script: Script) -> dict[str, Any]:
    """Fleet's fleet.Script: the contents are never in it (`?alt=media` downloads them)."""
    return {
        "id": script.pk,
        "team_id": script.team_id,
        "name": script.name,
        "created_at": rfc3339(script.created_at),
        "updated_at": rfc3339(script.updated_at),
    }


def result_json(execution: ScriptExecution, timed_out: bool | None = None) -> dict[str, Any]:
    """Fleet's getScriptResultResponse (also the sync run's body, which adds a few keys)."""
    timed_out = service.host_timeout(execution) if timed_out is None else timed_out
    return {
        "script_contents": execution.contents,
        "script_id": execution.script_id,
        "exit_code": execution.exit_code,
        "output": execution.output,
        "message": service.user_message(execution, timed_out),
        "hostname": execution.host.display_name,
        "host_timeout": timed_out,
        "host_id": execution.host_id,
        "execution_id": execution.execution_id,
        "runtime": execution.runtime,
        "created_at": rfc3339(execution.created_at),
    }


def batch_json(batch: BatchExecution, counts: dict[str, int]) -> dict[str, Any]:
    """Fleet's BatchActivity."""
    data = {
        "id": batch.pk,
        "batch_execution_id": batch.batch_execution_id,
        "user_id": batch.user_id,
        "script_id": batch.script_id,
        "script_name": batch.script_name,
        "team_id": batch.team_id,
        "created_at": rfc3339(batch.created_at),
        "updated_at": rfc3339(batch.updated_at),
        "canceled": batch.canceled,
        "status": batch.status,
        "targeted_host_count": counts["targeted"],
        "pending_host_count": counts["pending"],
        "ran_host_count": counts["ran"],
        "errored_host_count": counts["errored"],
        "canceled_host_count": counts["canceled"],
        "incompatible_host_count": counts["incompatible"],
    }
    for key in ("not_before", "started_at", "finished_at"):
        if getattr(batch, key) is not None:
            data[key] = rfc3339(getattr(batch, key))
    return data


class ScriptTextField(serializers.CharField):
    """Script text as sent: a NUL byte gets Fleet's "plain text only" message from validation, not DRF's."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators = [v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)]


class ScriptRunSerializer(serializers.Serializer):
    """Fleet's runScriptRequest; which fields may go together is checked by service.check_params."""

    host_id = ObjectIdField()
    script_id = ObjectIdField(required=False, allow_null=True)
    script_contents = ScriptTextField(required=False, allow_blank=True, trim_whitespace=False, default="")
    script_name = serializers.CharField(required=False, allow_blank=True, default="")
    team_id = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_ID)


class ScriptBatchRunSerializer(serializers.Serializer):
    """Fleet's BatchScriptRunRequest: a saved script and either host ids or host filters."""

    script_id = ObjectIdField()
    host_ids = serializers.ListField(
        child=ObjectIdField(), required=False, allow_null=True, max_length=c.MAX_BATCH_HOSTS
    )
    filters = serializers.DictField(required=False, allow_null=True)
    not_before = serializers.DateTimeField(required=False, allow_null=True)

    def validate(self, attrs: dict) -> dict:
        if bool(attrs.get("host_ids")) == bool(attrs.get("filters")):
            raise serializers.ValidationError({"host_ids": "send either host_ids or filters"})
        return attrs


class BatchSetSerializer(serializers.Serializer):
    scripts = serializers.ListField(child=serializers.DictField(), allow_empty=True, max_length=10_000)
