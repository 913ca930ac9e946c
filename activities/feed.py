"""Who may see which activities, and an activity as Fleet's JSON."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from accounts import permissions
from accounts.models import User
from activities.models import Activity


def visible_activities(user: User) -> QuerySet:
    """Global users see the whole feed; team users only what touched their teams or their hosts."""
    queryset = Activity.objects.all()
    teams = permissions.visible_team_ids(user)
    if teams is None:
        return queryset
    return queryset.filter(Q(team_id__in=teams) | Q(host__team_id__in=teams))


def activity_json(activity: Activity) -> dict[str, Any]:
    return {
        "id": activity.pk,
        "created_at": activity.created_at.isoformat().replace("+00:00", "Z"),
        "actor_full_name": activity.actor_full_name or None,
        "actor_id": activity.actor_id,
        "actor_gravatar": "",
        "actor_email": activity.actor_email or None,
        "type": activity.type,
        "fleet_initiated": activity.fleet_initiated,
        "details": activity.details,
    }


CSV_HEADER = ["id", "created_at", "type", "actor_full_name", "actor_email", "host_id", "team_id", "details"]


def csv_row(activity: Activity) -> list[Any]:
    import orjson

    return [
        activity.pk,
        activity.created_at.isoformat(),
        activity.type,
        activity.actor_full_name,
        activity.actor_email,
        activity.host_id,
        activity.team_id,
        orjson.dumps(activity.details).decode(),
    ]


_PHRASES = {
    "user_logged_in": "logged in",
    "user_failed_login": "failed to log in as {email}",
    "user_locked_out": "was locked out after {failures} failed logins as {email} from {public_ip}",
    "created_user": "created the user {user_email}",
    "edited_user": "edited the user {user_email}",
    "deleted_user": "deleted the user {user_email}",
    "changed_user_global_role": "made {user_email} a global {role}",
    "deleted_user_global_role": "removed the global role of {user_email}",
    "changed_user_team_role": "made {user_email} {role} on {team_name}",
    "deleted_user_team_role": "removed {user_email} from {team_name}",
    "invited_user": "invited {email}",
    "deleted_invite": "withdrew the invite for {email}",
    "changed_password": "changed their password",
    "reset_password": "reset their password",
    "created_api_token": "created the API token “{name}”",
    "revoked_api_token": "revoked the API token “{name}”",
    "created_team": "created the team {team_name}",
    "edited_team": "edited the team {team_name}",
    "deleted_team": "deleted the team {team_name}",
    "edited_agent_options": "edited agent options",
    "edited_enroll_secrets": "edited enroll secrets",
    "edited_app_config": "changed settings",
    "transferred_hosts": "moved {host_count} hosts to {team_name}",
    "deleted_host": "deleted {host_display_name}",
}


def describe(activity: Activity) -> str:
    """One readable line for the feed; unknown types (other apps' too) fall back to the type name."""
    template = _PHRASES.get(activity.type)
    details = dict(activity.details or {})
    if activity.type == "edited_agent_options":
        return (
            "edited the global agent options"
            if details.get("global")
            else f"edited agent options of {details.get('team_name')}"
        )
    if activity.type == "edited_enroll_secrets":
        return f"edited enroll secrets of {details.get('team_name') or 'the whole fleet'}"
    if activity.type == "transferred_hosts":
        details.setdefault("host_count", len(details.get("host_ids", [])))
        details["team_name"] = details.get("team_name") or "No team"
    if activity.type == "deleted_host" and "host_count" in details:
        return f"deleted {details['host_count']} hosts"
    if template is None:
        return activity.type.replace("_", " ")
    try:
        return template.format_map({k: v if v not in (None, "") else "—" for k, v in details.items()})
    except (KeyError, IndexError, ValueError):
        return activity.type.replace("_", " ")
