"""Running scripts: queueing on hosts, the fleetd round trip, saved-script changes, batch runs.

Errors are Fleet's REST errors (`FleetAPIError`), raised before anything is written. Each host
runs one script at a time: fleetd is told only of the oldest pending execution (the head of
its queue); when its result arrives, the next one is announced at the next config check-in.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts import permissions
from accounts.models import Team, User
from activities import types
from activities.record import record
from fleetsite import agent_options
from fleetsite.api.errors import FleetAPIError, forbidden, not_found, validation_failed
from fleetsite.lib import bounds
from fleetsite.lib.db import atomic_with_retry
from fleetsite.lib.locking import lock_own_rows
from fleetsite.models import FleetConfig
from hosts import upcoming
from hosts.models import Host
from scripts import constants as c
from scripts.choices import INCOMPATIBLE_FLEETD, INCOMPATIBLE_PLATFORM, BatchHostStatus, BatchStatus
from scripts.models import BatchExecution, BatchHost, Script, ScriptExecution
from scripts.validation import ScriptInvalid, runs_on, validate_contents, validate_new_script

# --- Shared checks ----------------------------------------------------------------------------


def check_enabled() -> None:
    """`server_settings.scripts_disabled` turns every run off (Fleet: 403 with its message)."""
    if FleetConfig.load().scripts_disabled:
        raise FleetAPIError(403, c.DISABLED_GLOBALLY, c.DISABLED_GLOBALLY)


def _user_message(status: int, message: str) -> FleetAPIError:
    return FleetAPIError(status, message, message)


def team_name(team_id: int | None) -> str | None:
    if not team_id:
        return None
    return Team.objects.filter(pk=team_id).values_list("name", flat=True).first()


def host_timeout(execution: ScriptExecution) -> bool:
    """A synchronous run nobody answered within the wait: Fleet reports it as timed out when read."""
    wait = timedelta(seconds=settings.FLEETSITE_SCRIPT_SYNC_WAIT)
    return execution.sync_request and execution.exit_code is None and timezone.now() > execution.created_at + wait


def user_message(execution: ScriptExecution, timed_out: bool = False) -> str:
    """Fleet's HostScriptResult.UserMessage: what fleetctl and the UI show beside a result."""
    if timed_out or host_timeout(execution):
        return c.HOST_TIMEOUT
    if execution.exit_code is None:
        return c.ALREADY_RUNNING if execution.sync_request else c.ENQUEUED
    if execution.exit_code == c.EXIT_TIMEOUT:
        return c.timeout_message(execution.timeout)
    if execution.exit_code == c.EXIT_SCRIPTS_DISABLED:
        return c.DISABLED_ON_HOST
    return ""


def pending(host_id: int) -> QuerySet:
    """A host's upcoming scripts, oldest first."""
    return ScriptExecution.objects.filter(host_id=host_id, exit_code__isnull=True, canceled=False).order_by(
        "created_at", "id"
    )


def pending_execution_ids(host_id: int) -> list[str]:
    """orbit config `notifications.pending_script_execution_ids`: the head of the queue only (one query)."""
    return list(pending(host_id).values_list("execution_id", flat=True)[:1])


# --- Running one script on one host -----------------------------------------------------------


def _saved_script_for(script_id: int | None, name: str, team_id: int, user: User) -> Script | None:
    if script_id is not None:
        script = Script.objects.filter(pk=script_id).first()
        if script is None:
            raise FleetAPIError(404, "Validation Failed", c.NO_SUCH_SCRIPT, name="script_id")
        return script
    if name:
        if not permissions.can(user, "read", permissions.Kind.SCRIPT, team_id or None):
            raise forbidden()
        script = Script.objects.filter(team_key=team_id, name=name).first()
        if script is None:
            raise validation_failed("script_name", f"Script '{name}' doesn’t exist.")
        return script
    return None


def check_params(body: dict[str, Any]) -> None:
    """Fleet's HostScriptRequestPayload.ValidateParams: one way to name the script."""
    contents, script_id, name, team_id = (
        body.get("script_contents"),
        body.get("script_id"),
        body.get("script_name"),
        body.get("team_id"),
    )
    if not contents and script_id is None and not name:
        raise validation_failed("script", "One of 'script_id', 'script_contents', or 'script_name' is required.")
    if script_id is not None:
        for other, value in (("script_contents", contents), ("script_name", name), ("team_id", team_id)):
            if value:
                raise validation_failed("script_id", f"Only one of 'script_id' or '{other}' is allowed.")
    if contents:
        for other, value in (("script_name", name), ("team_id", team_id)):
            if value:
                raise validation_failed("script_contents", f"Only one of 'script_contents' or '{other}' is allowed.")


def script_timeout(team_id: int | None) -> int | None:
    """Agent options `script_execution_timeout` for the host's team (None: fleetd's default)."""
    value = agent_options.effective(team_id).get("script_execution_timeout")
    return value if isinstance(value, int) and value > 0 else None


def run(user: User, body: dict[str, Any], sync: bool) -> ScriptExecution:
    """Fleet's RunHostScript, up to queueing: checks, then one new execution at the end of the queue."""
    check_enabled()
    check_params(body)
    host = Host.objects.filter(pk=body["host_id"]).first()
    if host is None:
        # Fleet checks the right to run scripts at all before saying a host does not exist.
        if permissions.writable_team_ids(user, permissions.Kind.SCRIPT) == set():
            raise forbidden()
        raise not_found(f"Host {body['host_id']} was not found in the datastore")
    if not permissions.can_read_team(user, host.team_id):
        raise not_found(f"Host {host.pk} was not found in the datastore")
    if not host.orbit_node_key_digest:
        raise _user_message(422, c.DISABLED_ON_HOST)
    if host.scripts_enabled is False:
        raise _user_message(422, c.ORBIT_DISABLED)
    if not permissions.can(user, "write", permissions.Kind.SCRIPT, host.team_id):
        raise forbidden()
    script = _saved_script_for(body.get("script_id"), body.get("script_name") or "", body.get("team_id") or 0, user)
    contents = body.get("script_contents") or ""
    if script is not None:
        if script.team_key != (host.team_id or 0):
            raise validation_failed("script_id", c.WRONG_TEAM)
        if not runs_on(script.name, host.platform):
            raise validation_failed("script_id", c.WRONG_PLATFORM)
        if pending(host.pk).filter(script=script).exists():
            raise FleetAPIError(409, "Validation Failed", c.ALREADY_QUEUED, name="script_id")
        contents = script.contents
    try:
        validate_contents(contents, saved=script is not None)
    except ScriptInvalid as exc:
        raise validation_failed("script_contents", str(exc)) from exc
    if sync and host.online_until <= timezone.now():
        raise validation_failed("host_id", c.HOST_OFFLINE)
    queued = pending(host.pk).count()
    if queued >= c.MAX_PENDING_SCRIPTS:
        raise FleetAPIError(409, "Validation Failed", "cannot queue more than 1000 scripts per host", name="script_id")
    if sync and queued:
        raise FleetAPIError(409, "Validation Failed", c.ALREADY_RUNNING, name="script_id")
    return _queue(host, script, contents, user, sync=sync)


def _queue(host: Host, script: Script | None, contents: str, user: User | None, sync: bool) -> ScriptExecution:
    return ScriptExecution.objects.create(
        execution_id=str(uuid.uuid4()),
        host=host,
        script=script,
        contents=contents,
        user=user if getattr(user, "pk", None) else None,
        timeout=script_timeout(host.team_id),
        sync_request=sync,
    )


def _sleep(seconds: float) -> None:
    """Between polls; tests replace it to answer as the agent would."""
    time.sleep(seconds)


def wait_for_result(execution: ScriptExecution) -> tuple[ScriptExecution, bool]:
    """Poll until the host answers or the sync wait runs out: (execution, timed out)."""
    deadline = time.monotonic() + settings.FLEETSITE_SCRIPT_SYNC_WAIT
    interval = settings.FLEETSITE_SCRIPT_SYNC_POLL
    while time.monotonic() < deadline:
        _sleep(min(interval, max(deadline - time.monotonic(), 0)))
        execution.refresh_from_db()
        if execution.exit_code is not None:
            return execution, False
        # Fleet backs off a second per attempt, up to 5 s.
        interval = min(interval + settings.FLEETSITE_SCRIPT_SYNC_POLL, 5.0)
    return execution, True


def visible_execution(user: User, execution_id: str) -> ScriptExecution:
    """An execution on a host the user can see, else 404."""
    execution = ScriptExecution.objects.select_related("host", "script").filter(execution_id=execution_id).first()
    if execution is None or not permissions.can(user, "read", permissions.Kind.SCRIPT, execution.host.team_id):
        if execution is not None and permissions.can_read_team(user, execution.host.team_id):
            raise forbidden()
        raise not_found(f"No script result for execution id {execution_id}")
    return execution


def cancel(user: User, host: Host, execution_id: str) -> None:
    """`DELETE /hosts/{id}/activities/upcoming/{id}`: drop a queued script (404 when not upcoming)."""
    with transaction.atomic():
        execution = pending(host.pk).select_for_update().filter(execution_id=execution_id).first()
        if execution is None:
            raise not_found(f"Upcoming activity {execution_id} was not found in the datastore")
        execution.canceled = True
        execution.updated_at = timezone.now()
        execution.save(update_fields=["canceled", "updated_at"])
        record(
            user,
            types.CANCELED_RUN_SCRIPT,
            {
                "host_id": host.pk,
                "host_display_name": host.display_name,
                "script_name": execution.script.name if execution.script else "",
            },
            host=host,
            team=host.team,
        )


# --- fleetd (orbit) ---------------------------------------------------------------------------


def orbit_request(host: Host, execution_id: str) -> ScriptExecution | None:
    """The execution fleetd asks for; another host's, an unknown or a canceled one is None (404)."""
    return (
        ScriptExecution.objects.filter(host=host, execution_id=execution_id, canceled=False)
        .select_related("script")
        .first()
    )


def orbit_result(host: Host, payload: dict[str, Any]) -> bool:
    """Store fleetd's answer once (a repeat is ignored) and record `ran_script`. False: unknown id."""
    with transaction.atomic():
        execution = (
            lock_own_rows(ScriptExecution.objects.all())
            .select_related("script", "batch", "user")
            .filter(host=host, execution_id=payload["execution_id"])
            .first()
        )
        if execution is None:
            return False
        if execution.exit_code is not None or execution.canceled:
            return True
        execution.exit_code = payload["exit_code"]
        execution.output = bounds.clean_text(payload["output"][-c.MAX_OUTPUT_CHARS :])
        execution.runtime = payload["runtime"]
        if payload.get("timeout"):
            execution.timeout = payload["timeout"]
        execution.updated_at = timezone.now()
        execution.save(update_fields=["exit_code", "output", "runtime", "timeout", "updated_at"])
        from software_installers.service import record_uninstall

        if record_uninstall(host, execution):
            return True
        record(
            execution.user,
            types.RAN_SCRIPT,
            {
                "host_id": host.pk,
                "host_display_name": host.display_name,
                "script_execution_id": execution.execution_id,
                "script_name": execution.script.name if execution.script else "",
                "async": not execution.sync_request,
                "policy_id": None,
                "policy_name": None,
                "batch_execution_id": execution.batch.batch_execution_id if execution.batch else None,
            },
            host=host,
            team=host.team,
        )
    return True


# --- Saved scripts ----------------------------------------------------------------------------


def _invalid(name: str, exc: ScriptInvalid) -> FleetAPIError:
    return validation_failed(name, str(exc))


def create(user: User, team_id: int | None, name: str, contents: str) -> Script:
    if len(name) > Script._meta.get_field("name").max_length:
        raise validation_failed("script", "The file name must be at most 255 characters.")
    try:
        validate_new_script(name, contents)
    except ScriptInvalid as exc:
        raise _invalid("script", exc) from exc
    team = None
    if team_id:
        team = Team.objects.filter(pk=team_id).first()
        if team is None:
            raise FleetAPIError(404, "Validation Failed", "The team does not exist.", name="team_id")
    try:
        with transaction.atomic():
            script = Script.objects.create(team=team, name=name, contents=contents)
            record(
                user,
                types.ADDED_SCRIPT,
                {"script_name": name, "team_id": team_id or None, "team_name": team.name if team else None},
                team=team,
            )
    except IntegrityError as exc:
        raise FleetAPIError(409, "Validation Failed", c.NAME_TAKEN, name="script") from exc
    return script


def update(user: User, script: Script, contents: str) -> Script:
    """`PATCH /scripts/{id}`: new contents, same name; pending runs keep the text they were queued with."""
    try:
        validate_new_script(script.name, contents)
    except ScriptInvalid as exc:
        raise _invalid("script", exc) from exc
    with transaction.atomic():
        script.contents = contents
        script.updated_at = timezone.now()
        script.save(update_fields=["contents", "updated_at"])
        record(
            user,
            types.UPDATED_SCRIPT,
            {"script_name": script.name, "team_id": script.team_id, "team_name": team_name(script.team_id)},
            team=script.team,
        )
    return script


def delete(user: User, script: Script) -> None:
    with transaction.atomic():
        details = {"script_name": script.name, "team_id": script.team_id, "team_name": team_name(script.team_id)}
        team = script.team
        script.delete()
        record(user, types.DELETED_SCRIPT, details, team=team)


def batch_set(user: User, team: Team | None, payloads: list[Any], dry_run: bool) -> list[Script]:
    """gitops: the team's saved scripts become exactly `payloads` (`script_contents` is base64)."""
    wanted: dict[str, str] = {}
    for index, item in enumerate(payloads):
        field = f"scripts[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise validation_failed(field, "each script needs a name and script_contents")
        try:
            contents = base64.b64decode(item.get("script_contents") or "", validate=True).decode("utf-8")
        except (ValueError, TypeError) as exc:
            raise validation_failed(field, c.NOT_TEXT) from exc
        contents = contents.replace("\r\n", "\n")
        try:
            validate_new_script(item["name"], contents)
        except ScriptInvalid as exc:
            raise _invalid(field, exc) from exc
        if len(item["name"]) > Script._meta.get_field("name").max_length:
            raise validation_failed(field, "The file name must be at most 255 characters.")
        if item["name"] in wanted:
            message = f'Couldn’t edit scripts. More than one script has the same file name: "{item["name"]}"'
            raise validation_failed(field, message)
        wanted[item["name"]] = contents
    if dry_run:
        return []
    team_key = team.pk if team else 0
    now = timezone.now()
    with transaction.atomic():
        existing = {s.name: s for s in Script.objects.select_for_update().filter(team_key=team_key)}
        doomed = [s.pk for name, s in existing.items() if name not in wanted]
        Script.objects.filter(pk__in=doomed).delete()
        changed = bool(doomed)
        for name, contents in wanted.items():
            script = existing.get(name)
            if script is None:
                Script.objects.create(team=team, name=name, contents=contents, created_at=now, updated_at=now)
            elif script.contents != contents:
                Script.objects.filter(pk=script.pk).update(contents=contents, updated_at=now)
            else:
                continue
            changed = True
        # The same scripts again (a scheduled gitops run) record nothing.
        if changed:
            record(
                user,
                types.EDITED_SCRIPT,
                {"team_id": team.pk if team else None, "team_name": team.name if team else None},
                team=team,
            )
    return list(Script.objects.filter(team_key=team_key).order_by("name"))


# --- Batch runs -------------------------------------------------------------------------------


def run_batch(user: User, script: Script, hosts: Iterable[Host], not_before: Any = None) -> BatchExecution:
    """Queue `script` on every host that can run it; the others are recorded as incompatible.

    Host rows are locked in id order, and the whole run is repeated if the database picks it
    as a deadlock victim against agents' own host writes (thousands of hosts at once).
    """
    check_enabled()
    now = timezone.now()
    scheduled = not_before is not None and not_before > now
    hosts = sorted(hosts, key=lambda host: host.pk)

    def create() -> BatchExecution:
        batch = BatchExecution.objects.create(
            batch_execution_id=str(uuid.uuid4()),
            script=script,
            script_name=script.name,
            team_id=script.team_id,
            user=user,
            status=BatchStatus.SCHEDULED if scheduled else BatchStatus.STARTED,
            not_before=not_before,
            started_at=None if scheduled else now,
        )
        BatchHost.objects.bulk_create([BatchHost(batch=batch, host=host) for host in hosts])
        count = batch.hosts.count()
        if not scheduled:
            start_batch(batch)
        record(
            user,
            types.RAN_SCRIPT_BATCH if not scheduled else types.BATCH_SCRIPT_SCHEDULED,
            {
                "script_name": script.name,
                "batch_execution_id": batch.batch_execution_id,
                "host_count": count,
                "team_id": script.team_id,
                "not_before": not_before.isoformat() if scheduled else None,
            },
            team=script.team,
        )
        return batch

    return atomic_with_retry(create)


def start_batch(batch: BatchExecution) -> None:
    """Create the executions of a batch's hosts (now, or when its `not_before` has come), in bulk."""
    waiting = batch.hosts.select_related("host").filter(execution__isnull=True, error="", host__isnull=False)
    targets = list(waiting.order_by("host_id"))
    timeout = script_timeout(batch.team_id)
    created_by_host: dict[int, ScriptExecution] = {}
    for target in targets:
        host = target.host
        if not runs_on(batch.script_name, host.platform):
            target.error = INCOMPATIBLE_PLATFORM
        elif not host.orbit_node_key_digest or host.scripts_enabled is False:
            target.error = INCOMPATIBLE_FLEETD
        else:
            created_by_host[host.pk] = ScriptExecution(
                execution_id=str(uuid.uuid4()),
                host=host,
                script=batch.script,
                batch=batch,
                contents=batch.script.contents,
                user=batch.user,
                timeout=timeout,
            )
    ScriptExecution.objects.bulk_create(created_by_host.values(), batch_size=500)
    upcoming.mark_work_queued(created_by_host)  # bulk_create sends no post_save
    # Not every database hands back the new ids from a bulk insert: read them by execution id.
    ids = dict(ScriptExecution.objects.filter(batch=batch).values_list("execution_id", "pk"))
    for target in targets:
        created = created_by_host.get(target.host_id)
        if created is not None:
            target.execution_id = ids[created.execution_id]
    BatchHost.objects.bulk_update(targets, ["error", "execution"], batch_size=500)
    BatchExecution.objects.filter(pk=batch.pk).update(
        status=BatchStatus.STARTED, started_at=batch.started_at or timezone.now(), updated_at=timezone.now()
    )


def expire_pending(days: int) -> int:
    """Cancel scripts queued more than `days` ago (0: never, as Fleet keeps them until the host returns)."""
    if days <= 0:
        return 0
    cutoff = timezone.now() - timedelta(days=days)
    stale = ScriptExecution.objects.filter(exit_code__isnull=True, canceled=False, created_at__lt=cutoff)
    return stale.update(canceled=True, updated_at=timezone.now())


def start_due_batches() -> int:
    """Celery: start scheduled batches whose time has come."""
    started = 0
    for batch in BatchExecution.objects.filter(
        status=BatchStatus.SCHEDULED, canceled=False, not_before__lte=timezone.now(), script__isnull=False
    ).select_related("script", "user"):
        atomic_with_retry(lambda batch=batch: start_batch(batch))
        started += 1
    return started


def host_status_filter(status: str) -> Q:
    """BatchHost rows in one of Fleet's per-host batch states."""
    execution_pending = Q(execution__exit_code__isnull=True, execution__canceled=False)
    return {
        BatchHostStatus.INCOMPATIBLE: ~Q(error=""),
        BatchHostStatus.RAN: Q(execution__exit_code=0),
        BatchHostStatus.ERRORED: Q(execution__exit_code__isnull=False) & ~Q(execution__exit_code=0),
        BatchHostStatus.CANCELED: Q(execution__canceled=True, execution__exit_code__isnull=True)
        | Q(error="", execution__isnull=True, batch__canceled=True),
        BatchHostStatus.PENDING: Q(error="") & (Q(execution__isnull=True, batch__canceled=False) | execution_pending),
    }[BatchHostStatus(status)]


def batch_counts(batch: BatchExecution) -> dict[str, int]:
    """Targeted, ran, pending, errored, canceled and incompatible hosts, in one query."""
    counts = batch.hosts.aggregate(
        targeted=Count("id"),
        **{status.value: Count("id", filter=host_status_filter(status)) for status in BatchHostStatus},
    )
    if batch.status == BatchStatus.STARTED and counts["pending"] == 0:
        now = timezone.now()
        BatchExecution.objects.filter(pk=batch.pk, status=BatchStatus.STARTED).update(
            status=BatchStatus.FINISHED, finished_at=now, updated_at=now
        )
        batch.status, batch.finished_at = BatchStatus.FINISHED, now
    return counts


def cancel_batch(user: User, batch: BatchExecution) -> None:
    """Cancel what has not run yet; results already in stay."""
    with transaction.atomic():
        now = timezone.now()
        ScriptExecution.objects.filter(batch=batch, exit_code__isnull=True, canceled=False).update(
            canceled=True, updated_at=now
        )
        BatchExecution.objects.filter(pk=batch.pk).update(
            canceled=True, status=BatchStatus.FINISHED, finished_at=now, updated_at=now
        )
        record(
            user,
            types.CANCELED_SCRIPT_BATCH,
            {"script_name": batch.script_name, "batch_execution_id": batch.batch_execution_id},
            team=batch.team,
        )
