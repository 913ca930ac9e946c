"""Who may see which activities, and an activity as Fleet's JSON."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.safestring import SafeString

from accounts import permissions
from accounts.choices import role_name
from accounts.models import User
from activities.models import Activity
from fleetsite.ui import html_text


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
    # The second factor and sessions (mfa/types.py).
    "enabled_mfa": "turned on a second factor for {user_email}",
    "disabled_mfa": "turned off the second factor of {user_email}",
    "regenerated_mfa_recovery_codes": "made new recovery codes for {user_email}",
    "added_mfa_passkey": "added the passkey {passkey_name} for {user_email}",
    "deleted_mfa_passkey": "removed the passkey {passkey_name} of {user_email}",
    "edited_mfa_settings": "edited the second-factor settings",
    "ended_user_sessions": "ended {sessions} sessions of {user_email}",
    "user_failed_login": "failed to log in as {email}",
    "user_added_by_sso": "was added by single sign-on",
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
    "refetched_host": "asked {host_display_name} to refetch its details",
    "created_saved_query": "created the query {query_name}",
    "edited_saved_query": "edited the query {query_name}",
    "deleted_saved_query": "deleted the query {query_name}",
    "deleted_multiple_saved_query": "deleted {query_count} queries",
    "created_label": "created the label {label_name}",
    "edited_label": "edited the label {label_name}",
    "deleted_label": "deleted the label {label_name}",
    "created_policy": "created the policy {policy_name}",
    "edited_policy": "edited the policy {policy_name}",
    "deleted_policy": "deleted the policy {policy_name}",
    "deleted_multiple_policies": "deleted {policy_count} policies",
    "created_pack": "created the pack {pack_name}",
    "edited_pack": "edited the pack {pack_name}",
    "deleted_pack": "deleted the pack {pack_name}",
    "ran_script": "ran the script {script_name} on {host_display_name}",
    "added_script": "added the script {script_name}",
    "updated_script": "edited the script {script_name}",
    "canceled_run_script": "canceled the script {script_name} on {host_display_name}",
    "ran_script_batch": "ran the script {script_name} on {host_count} hosts",
    "batch_script_scheduled": "scheduled the script {script_name} on {host_count} hosts",
    "batch_script_canceled": "canceled the batch run of {script_name}",
    "added_software": "added {software_title} for install",
    "deleted_software": "deleted the installer of {software_title}",
    "installed_software": "installed {software_title} on {host_display_name}",
    "uninstalled_software": "uninstalled {software_title} from {host_display_name}",
    "canceled_install_software": "canceled the install of {software_title} on {host_display_name}",
    "deleted_script": "deleted the script {script_name}",
}

# Where a name in a phrase leads: the detail key holding the object's id, and its page.
_LINKS = {
    "query_name": ("query_id", "/queries/{}/"),
    "label_name": ("label_id", "/labels/{}/"),
    "policy_name": ("policy_id", "/policies/{}/"),
    "team_name": ("team_id", "/teams/{}/"),
    "host_display_name": ("host_id", "/hosts/{}/"),
    "user_email": ("user_id", "/users/{}/"),
}


# Activities whose outcome has a page: the type, the name that links to it, the detail key of its id
# and the page (script output, batch progress, install output). Those pages check permissions.
_OUTPUT_LINKS = {
    "ran_script": ("script_name", "script_execution_id", "/scripts/results/{}/"),
    "ran_script_batch": ("script_name", "batch_execution_id", "/scripts/batches/{}/"),
    "batch_script_scheduled": ("script_name", "batch_execution_id", "/scripts/batches/{}/"),
    "batch_script_canceled": ("script_name", "batch_execution_id", "/scripts/batches/{}/"),
    "installed_software": ("software_title", "install_uuid", "/software/installs/{}/"),
}
_SLUG = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def describe(activity: Activity) -> str:
    """One readable line for the feed; unknown types (other apps' too) fall back to the type name."""
    template, details = _phrase(activity)
    if template is None:
        return activity.type.replace("_", " ")
    try:
        return template.format_map({k: v if v not in (None, "") else "—" for k, v in details.items()})
    except (KeyError, IndexError, ValueError):
        return activity.type.replace("_", " ")


def _phrase(activity: Activity) -> tuple[str | None, dict[str, Any]]:
    """The phrase for `activity` and its details, readied: counts filled in, roles by their names."""
    template = _PHRASES.get(activity.type)
    details = dict(activity.details or {})
    if "role" in details:
        details["role"] = role_name(details["role"])
    if activity.type == "deleted_multiple_saved_query":
        details.setdefault("query_count", len(details.get("query_ids") or []))
    if activity.type == "deleted_multiple_policies":
        details.setdefault("policy_count", len(details.get("policy_names") or details.get("policy_ids") or []))
    if activity.host_id and "host_id" not in details:
        details["host_id"] = activity.host_id
    if activity.type == "edited_agent_options":
        template = "edited the global agent options" if details.get("global") else "edited agent options of {team_name}"
    if activity.type == "edited_enroll_secrets":
        details["team_name"] = details.get("team_name") or "the whole fleet"
        template = "edited enroll secrets of {team_name}"
    if activity.type == "transferred_hosts":
        details.setdefault("host_count", len(details.get("host_ids", [])))
        details["team_name"] = details.get("team_name") or "No team"
    if activity.type == "deleted_host" and "host_count" in details:
        template = "deleted {host_count} hosts"
    if activity.type == "installed_software" and details.get("status") == "failed":
        template = "failed to install {software_title} on {host_display_name}"
    if activity.type == "live_query":
        count = details.get("targets_count") or 0
        details["targets"] = f"{count} host{'' if count == 1 else 's'}"
        template = (
            "ran the query {query_name} live on {targets}"
            if details.get("query_name")
            else ("ran a live query on {targets}")
        )
    return template, details


def existing_objects(activities: list[Activity]) -> dict[str, set[int]]:
    """Ids, per detail key, of the objects these activities name that still exist (one query per kind).

    The feed links a name only when its page opens: a deleted query's name stays plain text.
    """
    from accounts.models import Team, User
    from hosts.models import Host, Label
    from queries.models import Policy, Query

    models = {"query_id": Query, "label_id": Label, "policy_id": Policy, "team_id": Team, "host_id": Host,
              "user_id": User}  # fmt: skip
    wanted: dict[str, set[int]] = {key: set() for key in models}
    for activity in activities:
        details = activity.details or {}
        for key in models:
            if isinstance(details.get(key), int):
                wanted[key].add(details[key])
        if activity.host_id:
            wanted["host_id"].add(activity.host_id)
    return {
        key: set(models[key].objects.filter(pk__in=ids).values_list("pk", flat=True)) if ids else set()
        for key, ids in wanted.items()
    }


def describe_html(activity: Activity, existing: dict[str, set[int]] | None = None) -> SafeString:
    """`describe` as HTML: each named object links to its page while it exists (`existing`, from
    `existing_objects`; None links every id), and a live query shows its SQL."""
    template, details = _phrase(activity)
    if template is None:
        return SafeString(html_text(activity.type.replace("_", " ")))
    values: dict[str, str] = {}
    for key, value in details.items():
        text = html_text(value if value not in (None, "") else "—")
        target = _LINKS.get(key)
        if target is not None:
            object_id = details.get(target[0])
            alive = isinstance(object_id, int) and (existing is None or object_id in existing.get(target[0], ()))
            if alive and not activity.type.startswith("deleted_"):
                text = f'<a href="{target[1].format(object_id)}">{text}</a>'
        values[key] = text
    output = _OUTPUT_LINKS.get(activity.type)
    if output is not None and output[0] in values:
        object_id = details.get(output[1])
        if isinstance(object_id, str) and _SLUG.match(object_id):
            values[output[0]] = f'<a href="{output[2].format(object_id)}">{values[output[0]]}</a>'
    try:
        line = template.format_map(values)
    except (KeyError, IndexError, ValueError):
        return SafeString(html_text(activity.type.replace("_", " ")))
    sql = details.get("query_sql") if activity.type == "live_query" else None
    if sql:
        shown = sql if len(sql) <= 200 else sql[:200] + "…"
        line += f' <code class="sql" title="{html_text(sql)}">{html_text(shown)}</code>'
    return SafeString(line)
