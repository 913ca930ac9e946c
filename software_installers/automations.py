"""Policy automations: a host that starts failing a team policy gets its script run or its package installed.

Called after the check-in's commit (queries/policies.py queues it), once per flip to failing, so
a host still failing on later check-ins is not queued again. Nothing is queued when the same
script or install is already pending, or the host cannot run it (no fleetd, other platform, scope).
"""

from __future__ import annotations

import logging
import uuid

from django.db import transaction

from hosts.models import Host
from scripts.models import Script, ScriptExecution
from scripts.service import pending as pending_scripts
from scripts.service import script_timeout
from scripts.validation import runs_on
from software_installers import service
from software_installers.choices import InstallStatus
from software_installers.models import SoftwareInstaller

logger = logging.getLogger(__name__)


def run(host_id: int, automations: list[tuple[int, int | None, int | None]]) -> int:
    """Queue each (policy id, script id, installer id) on the host; the number queued."""
    host = Host.objects.filter(pk=host_id).first()
    if host is None or not host.orbit_node_key_digest:
        return 0
    queued = 0
    with transaction.atomic():
        for policy_id, script_id, installer_id in automations:
            if script_id is not None:
                queued += _script(host, script_id)
            if installer_id is not None:
                queued += _install(host, installer_id, policy_id)
    return queued


def _script(host: Host, script_id: int) -> int:
    script = Script.objects.filter(pk=script_id, team_key=host.team_id or 0).first()
    if script is None or host.scripts_enabled is False or not runs_on(script.name, host.platform):
        return 0
    if pending_scripts(host.pk).filter(script=script).exists():
        return 0
    ScriptExecution.objects.create(
        execution_id=str(uuid.uuid4()),
        host=host,
        script=script,
        contents=script.contents,
        timeout=script_timeout(host.team_id),
    )
    return 1


def _install(host: Host, installer_id: int, policy_id: int) -> int:
    installer = (
        SoftwareInstaller.objects.select_related("title").filter(pk=installer_id, team_key=host.team_id or 0).first()
    )
    if installer is None:
        return 0
    if service.host_status(host.pk, installer.title_id) in (
        InstallStatus.PENDING_INSTALL,
        InstallStatus.PENDING_UNINSTALL,
    ):
        return 0
    if not service.platform_matches(installer, host) or not service.in_scope(installer, host):
        return 0
    service.queue_install(host, installer, None, policy_id=policy_id)
    return 1
