"""Background work for software installers."""

from __future__ import annotations

from celery import shared_task

from software_installers import automations


@shared_task(name="run-policy-automations")
def run_policy_automations(host_id: int, items: list[list[int | None]]) -> int:
    """Queue the scripts and installs of policies a host just started failing."""
    return automations.run(host_id, [(int(p), s, i) for p, s, i in items])  # type: ignore[arg-type]
