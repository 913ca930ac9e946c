"""A host's upcoming queue: pending scripts (scripts.service.pending) and pending installs, oldest first.

fleetd is told of the head only, whichever kind it is, so a host runs one script or install at a
time, in the order they were asked for. One indexed query per config check-in, and none for a
host with nothing queued.
"""

from __future__ import annotations

from typing import Any

from django.db import router, transaction
from django.db.models import Value
from django.utils import timezone

from activities.record import record
from fleetsite.lib.prepared import FirstRowByValue
from hosts import upcoming
from hosts.models import Host
from scripts.models import ScriptExecution
from scripts.service import pending as pending_scripts
from software_installers.choices import InstallStatus
from software_installers.models import SoftwareInstall


def pending_installs(host_id: int) -> Any:
    """A host's pending installs, oldest first (uninstalls queue as script executions)."""
    return SoftwareInstall.objects.filter(
        host_id=host_id, status=InstallStatus.PENDING_INSTALL, canceled=False, uninstall=False
    ).order_by("created_at", "id")


def notifications(host: Host) -> dict[str, list[str]]:
    """orbit config `notifications` for the head of the queue: a script execution id or an install id.

    No query at all for a host with nothing queued since its queue was last found empty.
    """
    stamp = host.work_queued_at
    if stamp is None:
        return {}
    head = queue_head(host.pk)
    if head is None:
        upcoming.clear_if_unchanged(host.pk, stamp)
        return {}
    key, kind = head
    return {"pending_software_installer_ids" if kind == "install" else "pending_script_execution_ids": [key]}


# Building and compiling the two ORM queries of the queue cost about 1 CPU-ms, four times an idle
# orbit config; every poll of a host with work waiting paid it (issue 15's target: within 1.2x).
# The placeholder stands for the host id while the SQL is compiled; no host has a negative id.
_queue_head = FirstRowByValue(lambda host_id: upcoming_keys(host_id), placeholder=-7_345_812_019)


def queue_head(host_id: int) -> tuple[str, str] | None:
    """(id, kind) of a host's oldest queued item, in one statement compiled once per database."""
    row = _queue_head.get(host_id, router.db_for_read(ScriptExecution))
    return None if row is None else (row[0], row[2])


def upcoming_keys(host_id: int) -> Any:
    """(id, created_at, kind, pk) of every queued item of a host, oldest first: a union paged in the database."""
    scripts = pending_scripts(host_id).values_list("execution_id", "created_at", Value("script"), "id")
    installs = pending_installs(host_id).values_list("install_uuid", "created_at", Value("install"), "id")
    return scripts.order_by().union(installs.order_by(), all=True).order_by("created_at", "id")


def upcoming_count(host_id: int) -> int:
    return pending_scripts(host_id).count() + pending_installs(host_id).count()


def install_upcoming_json(run: SoftwareInstall) -> dict[str, Any]:
    """A pending install as Fleet lists it: an `installed_software` activity that has not happened yet."""
    user = run.user
    return {
        "uuid": run.install_uuid,
        "type": "installed_software",
        "created_at": run.created_at.isoformat().replace("+00:00", "Z"),
        "actor_id": run.user_id,
        "actor_full_name": getattr(user, "name", None) or None,
        "actor_email": getattr(user, "email", None) or None,
        "actor_gravatar": "",
        "fleet_initiated": user is None and not run.self_service,
        "details": {
            "host_id": run.host_id,
            "host_display_name": run.host.display_name,
            "software_title": run.software_title,
            "software_package": run.software_package,
            "install_uuid": run.install_uuid,
            "status": InstallStatus.PENDING_INSTALL,
            "self_service": run.self_service,
            "policy_id": run.policy_id,
        },
    }


def uninstall_upcoming_json(run: SoftwareInstall) -> dict[str, Any]:
    """A queued uninstall (a script execution underneath) as Fleet lists it: `uninstalled_software`."""
    body = install_upcoming_json(run)
    body["type"] = "uninstalled_software"
    body["details"] = {
        "host_id": run.host_id,
        "host_display_name": run.host.display_name,
        "software_title": run.software_title,
        "script_execution_id": run.install_uuid,
        "status": InstallStatus.PENDING_UNINSTALL,
        "self_service": run.self_service,
    }
    return body


def render_upcoming(keys: list[tuple[str, Any, str, int]], script_json: Any) -> list[dict[str, Any]]:
    """One page of queue keys as Fleet's activities, in three queries whatever the page size."""
    script_ids = [pk for _, _, kind, pk in keys if kind == "script"]
    install_ids = [pk for _, _, kind, pk in keys if kind == "install"]
    executions = ScriptExecution.objects.select_related("host", "script", "user", "batch").in_bulk(script_ids)
    uninstalls = {
        run.execution_id: run
        for run in SoftwareInstall.objects.select_related("host", "user").filter(execution_id__in=script_ids)
    }
    installs = SoftwareInstall.objects.select_related("host", "user").in_bulk(install_ids)
    rows = []
    for _, _, kind, pk in keys:
        if kind == "install":
            rows.append(install_upcoming_json(installs[pk]))
        elif pk in uninstalls:
            rows.append(uninstall_upcoming_json(uninstalls[pk]))
        else:
            rows.append(script_json(executions[pk]))
    return rows


def cancel_install(user: Any, host: Any, install_uuid: str) -> bool:
    """Drop a queued install from the host's queue; False when it is not an upcoming install."""
    with transaction.atomic():
        run = pending_installs(host.pk).select_for_update().filter(install_uuid=install_uuid).first()
        if run is None:
            return False
        run.canceled = True
        run.updated_at = timezone.now()
        run.save(update_fields=["canceled", "updated_at"])
        record(
            user,
            "canceled_install_software",
            {
                "host_id": host.pk,
                "host_display_name": host.display_name,
                "software_title": run.software_title,
                "software_title_id": run.title_id,
            },
            host=host,
            team=host.team,
        )
    return True
