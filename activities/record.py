"""Recording activities; every app calls `record` after a change an admin made."""

from __future__ import annotations

from typing import Any

from activities.models import Activity


def record(
    actor: Any,
    type: str,  # noqa: A002 - Fleet's field name
    details: dict[str, Any] | None = None,
    host: Any = None,
    team: Any = None,
) -> Activity:
    """Append one activity; `actor` is a user, or None for something Fleetsite itself did.

    The activities webhook, when on, gets it after the caller's transaction commits.
    """
    from webhooks.triggers import activity_recorded

    activity = Activity.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_full_name=getattr(actor, "name", "") or "",
        actor_email=getattr(actor, "email", "") or "",
        type=type,
        details=details or {},
        host=host,
        team=team,
        fleet_initiated=actor is None,
    )
    activity_recorded(activity)
    return activity
