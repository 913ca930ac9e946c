"""fleetd's answers to the work orbit config announces: pending scripts and software installs.

agentsim never executes what it receives. A script's outcome comes from a marker in its text
(`agentsim:fail`, `agentsim:timeout`) or else from the run's `script_outcome`; an install runs
its scripts the same way. The requests and result bodies are fleetd's (orbit/pkg/scripts,
orbit/pkg/installer): fetch the script or the install details, then post the result, one
notification at a time, as fleetd works through its queue.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agentsim.transport import Response

SCRIPT_REQUEST = "/api/fleet/orbit/scripts/request"
SCRIPT_RESULT = "/api/fleet/orbit/scripts/result"
INSTALL_DETAILS = "/api/fleet/orbit/software_install/details"
INSTALL_PACKAGE = "/api/fleet/orbit/software_install/package?alt=media"
INSTALL_RESULT = "/api/fleet/orbit/software_install/result"

OUTCOMES = ("ok", "fail", "timeout")
# fleetd's exit code for a script it stopped at the timeout (orbit/pkg/scripts).
EXIT_TIMED_OUT = -1
DEFAULT_TIMEOUT = 300  # fleetd's default script_execution_timeout, in seconds

Send = Callable[[str, dict[str, Any]], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Outcome:
    exit_code: int
    output: str
    runtime: int
    timed_out: bool = False


def outcome_of(contents: str, default: str, timeout: int) -> Outcome:
    """What "running" `contents` gives: the marker in the text wins over the run's default."""
    kind = default
    for marker in OUTCOMES:
        if f"agentsim:{marker}" in contents:
            kind = marker
            break
    digest = hashlib.sha256(contents.encode("utf-8", "replace")).hexdigest()[:12]
    if kind == "timeout":
        return Outcome(EXIT_TIMED_OUT, f"agentsim: script {digest} timed out after {timeout}s", timeout, True)
    if kind == "fail":
        return Outcome(1, f"agentsim: script {digest} failed\n", 1)
    return Outcome(0, f"agentsim: script {digest} ran\n", 1)


async def run_notifications(
    send: Send, node_key: str, notifications: Mapping[str, Any], default: str, timeout: int | None
) -> tuple[int, int]:
    """Answer every pending script and install named in `notifications`; returns how many of each ran."""
    scripts = installs = 0
    seconds = timeout or DEFAULT_TIMEOUT
    for execution_id in _ids(notifications.get("pending_script_execution_ids")):
        if await _run_script(send, node_key, execution_id, default, seconds):
            scripts += 1
    for install_uuid in _ids(notifications.get("pending_software_installer_ids")):
        if await _run_install(send, node_key, install_uuid, default, seconds):
            installs += 1
    return scripts, installs


def _ids(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str) and item] if isinstance(value, list) else []


async def _run_script(send: Send, node_key: str, execution_id: str, default: str, timeout: int) -> bool:
    asked = await send(SCRIPT_REQUEST, {"orbit_node_key": node_key, "execution_id": execution_id})
    if not asked.ok or not isinstance(asked.data, Mapping):
        return False  # cancelled or gone meanwhile: fleetd drops it too
    result = outcome_of(str(asked.data.get("script_contents") or ""), default, timeout)
    body = {
        "orbit_node_key": node_key,
        "execution_id": execution_id,
        "output": result.output,
        "runtime": result.runtime,
        "exit_code": result.exit_code,
        "timeout": timeout,
    }
    return (await send(SCRIPT_RESULT, body)).ok


async def _run_install(send: Send, node_key: str, install_uuid: str, default: str, timeout: int) -> bool:
    details = await send(INSTALL_DETAILS, {"orbit_node_key": node_key, "install_uuid": install_uuid})
    if not details.ok or not isinstance(details.data, Mapping):
        return False
    installer_id = details.data.get("installer_id")
    if not (await send(INSTALL_PACKAGE, {"orbit_node_key": node_key, "installer_id": installer_id})).ok:
        return False
    install = outcome_of(str(details.data.get("install_script") or ""), default, timeout)
    body: dict[str, Any] = {
        "orbit_node_key": node_key,
        "install_uuid": install_uuid,
        "install_script_exit_code": install.exit_code,
        "install_script_output": install.output,
    }
    if details.data.get("pre_install_condition"):
        body["pre_install_condition_output"] = "1"  # the condition's query returned a row
    post_script = str(details.data.get("post_install_script") or "")
    if post_script and install.exit_code == 0:
        post = outcome_of(post_script, default, timeout)
        body["post_install_script_exit_code"] = post.exit_code
        body["post_install_script_output"] = post.output
    return (await send(INSTALL_RESULT, body)).ok
