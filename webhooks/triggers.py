"""When each automation fires, and what it sends, in Fleet's payload shapes (server/webhooks/*.go).

- activities: every recorded activity, from `activities.record` (one cached settings read when off);
- failing policies: hosts whose answer flipped to failing, per policy in `policy_ids`, in batches of
  `host_batch_size` (0 sends one host per request, as Fleet's sender does), from beat;
- host status: the share of hosts unseen for `days_count` days, at most once per `interval`, from beat;
- vulnerabilities: CVEs a matching run found on hosts where no host had them open before, from
  `vulnerabilities.matching.run`.
Jira and Zendesk get one ticket per failing policy or per new CVE instead, when so configured.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Team
from fleetsite.lib.publicurl import public_base_url
from hosts.api.serializers import rfc3339
from webhooks import config
from webhooks.choices import Kind
from webhooks.delivery import queue
from webhooks.models import AutomationSettings, Delivery

FLEET_ACTOR = "Fleet"  # Fleet's automationActivityAuthor


def _host_part(host_id: int, hostname: str, computer_name: str, base: str) -> dict[str, Any]:
    return {
        "id": host_id,
        "hostname": hostname,
        "display_name": computer_name or hostname,
        "url": f"{base}/hosts/{host_id}",
    }


# --- Activities --------------------------------------------------------------------------------


def activity_recorded(activity: Any) -> None:
    """Queue the activities webhook for a new activity (Fleet's ActivityWebhookPayload), if it is on."""
    hook = (AutomationSettings.load().webhook_settings or {}).get("activities_webhook") or {}
    if not hook.get("enable_activities_webhook") or not hook.get("destination_url"):
        return
    payload = {
        "timestamp": rfc3339(activity.created_at),
        "actor_full_name": activity.actor_full_name or (FLEET_ACTOR if activity.fleet_initiated else None),
        "actor_id": activity.actor_id,
        "actor_email": activity.actor_email or None,
        "type": activity.type,
        "details": activity.details,
    }
    queue(Kind.ACTIVITIES, hook["destination_url"], payload)


# --- Failing policies --------------------------------------------------------------------------


def _failing_policy_targets() -> list[dict[str, Any]]:
    """Each scope's failing-policy automation: global (global policies) and per team (that team's policies)."""
    scopes: list[dict[str, Any]] = []
    settings = AutomationSettings.load()
    hooks = config.webhook_settings(settings)
    intgs = config.integrations(settings)
    scopes.append({"team": None, "hook": hooks["failing_policies_webhook"], "intgs": intgs})
    for team in Team.objects.exclude(spec_settings={}).only("pk", "spec_settings"):
        team_intgs = config.team_integrations(team.spec_settings)
        scopes.append(
            {
                "team": team.pk,
                "hook": config.team_webhook_settings(team.spec_settings)["failing_policies_webhook"],
                "intgs": {kind: _with_tokens(kind, team_intgs[kind], intgs[kind]) for kind in ("jira", "zendesk")},
            }
        )
    return scopes


def _with_tokens(kind: str, team_items: list[dict], global_items: list[dict]) -> list[dict]:
    """A team's integrations are references to global ones (Fleet's MatchWithIntegrations)."""
    out = []
    for item in team_items:
        key = config._jira_key(item) if kind == "jira" else config._zendesk_key(item)
        for known in global_items:
            if (config._jira_key(known) if kind == "jira" else config._zendesk_key(known)) == key:
                out.append({**known, "enable_failing_policies": item.get("enable_failing_policies", False)})
    return out


def failing_policies(now: datetime | None = None) -> int:
    """Queue what hosts newly failing automated policies need; returns the number of deliveries queued."""
    from queries.api.policies import policy_json
    from queries.models import Policy, PolicyMembership

    now = now or timezone.now()
    queued = 0
    base = public_base_url()
    for scope in _failing_policy_targets():
        hook = scope["hook"]
        ticket = next(
            ((kind, item) for kind in ("jira", "zendesk") for item in scope["intgs"][kind]
             if item.get("enable_failing_policies")),
            None,
        )  # fmt: skip
        webhook_on = hook.get("enable_failing_policies_webhook") and hook.get("destination_url")
        policy_ids = [i for i in hook.get("policy_ids") or [] if isinstance(i, int)]
        if not policy_ids or not (webhook_on or ticket):
            continue
        policies = Policy.objects.filter(pk__in=policy_ids, team_id=scope["team"]).select_related("author")
        for policy in policies:
            with transaction.atomic():
                pending = list(
                    PolicyMembership.objects.select_for_update()
                    .filter(policy=policy, passes=False, webhook_pending=True)
                    .order_by("host_id")
                    .values_list("pk", "host_id", "host__hostname", "host__computer_name")
                )
                if not pending:
                    continue
                PolicyMembership.objects.filter(pk__in=[row[0] for row in pending]).update(webhook_pending=False)
                hosts = [_host_part(host_id, name, computer, base) for _, host_id, name, computer in pending]
                body = policy_json(policy)
                body["failing_host_count"] = max(body["failing_host_count"], len(hosts))
                if webhook_on:
                    size = hook.get("host_batch_size") or 1  # Fleet: 0 means one host per request
                    for start in range(0, len(pending), size):
                        payload = {"timestamp": rfc3339(now), "policy": body, "hosts": hosts[start : start + size]}
                        ids = [row[0] for row in pending[start : start + size]]
                        queue(
                            Kind.FAILING_POLICIES, hook["destination_url"], payload, scope["team"], {"memberships": ids}
                        )
                        queued += 1
                else:
                    kind, item = ticket
                    summary = f"{policy.name} policy failed on {len(hosts)} host(s)"
                    lines = [f"Policy: {policy.name}", f"Query: {policy.query}", "", "Hosts:"]
                    lines += [f"- {host['display_name']} ({host['url']})" for host in hosts]
                    if policy.resolution:
                        lines += ["", f"Resolution: {policy.resolution}"]
                    context = {"memberships": [row[0] for row in pending], "integration": _target(kind, item)}
                    queue(kind, item["url"], _ticket(kind, item, summary, "\n".join(lines)), scope["team"], context)
                    queued += 1
    return queued


def _target(kind: str, item: dict[str, Any]) -> dict[str, Any]:
    if kind == "jira":
        return {"url": item["url"], "project_key": item["project_key"]}
    return {"url": item["url"], "group_id": item["group_id"]}


def _ticket(kind: str, item: dict[str, Any], summary: str, description: str) -> dict[str, Any]:
    from webhooks.tickets import issue_body

    return issue_body(kind, item, summary, description)


# --- Host status -------------------------------------------------------------------------------


def host_status(now: datetime | None = None) -> int:
    """Post Fleet's host status message for each scope whose share of unseen hosts reached the threshold."""
    from hosts.models import Host

    now = now or timezone.now()
    settings = AutomationSettings.load()
    hooks = config.webhook_settings(settings)
    interval = timedelta(seconds=config.interval_seconds(hooks.get("interval") or config.DEFAULT_INTERVAL))
    scopes: list[tuple[int | None, dict[str, Any]]] = [(None, hooks["host_status_webhook"])]
    scopes += [
        (team.pk, config.team_webhook_settings(team.spec_settings)["host_status_webhook"])
        for team in Team.objects.exclude(spec_settings={}).only("pk", "spec_settings")
    ]
    queued = 0
    for team_id, hook in scopes:
        if not hook.get("enable_host_status_webhook") or not hook.get("destination_url"):
            continue
        days = int(hook.get("days_count") or 0)
        if days <= 0:
            continue
        if Delivery.objects.filter(kind=Kind.HOST_STATUS, team_id=team_id, created_at__gt=now - interval).exists():
            continue  # sent within the interval
        hosts = Host.objects.filter(team_id=team_id) if team_id is not None else Host.objects.all()
        total = hosts.count()
        if not total:
            continue
        unseen = list(
            hosts.filter(seen_time__lt=now - timedelta(days=days)).order_by("pk").values_list("pk", flat=True)
        )
        percent = len(unseen) * 100.0 / total
        if percent < float(hook.get("host_percentage") or 0):
            continue
        data: dict[str, Any] = {
            "unseen_hosts": len(unseen),
            "total_hosts": total,
            "days_unseen": days,
            "host_ids": unseen,
        }
        if team_id is not None:
            data["team_id"] = team_id
        text = (
            f"More than {percent:.2f}% of your hosts have not checked into Fleet for more than {days} days. "
            "You've been sent this message because the Host status webhook is enabled in your Fleet instance."
        )
        with transaction.atomic():
            queue(Kind.HOST_STATUS, hook["destination_url"], {"text": text, "data": data}, team_id)
        queued += 1
    return queued


# --- Vulnerabilities ---------------------------------------------------------------------------


def vulnerabilities_wanted() -> bool:
    """Whether any vulnerability automation is on: the one cheap check matching runs make."""
    settings = AutomationSettings.load()
    hook = (settings.webhook_settings or {}).get("vulnerabilities_webhook") or {}
    if hook.get("enable_vulnerabilities_webhook"):
        return True
    return any(
        item.get("enable_software_vulnerabilities")
        for kind in ("jira", "zendesk")
        for item in (settings.integrations or {}).get(kind) or []
    )


def matching_opened(now: datetime) -> None:
    """Called by a matching run (inside its transaction) that opened host vulnerabilities."""
    if not vulnerabilities_wanted():
        return
    from webhooks.tasks import vulnerabilities_webhook

    stamp = now.isoformat()
    transaction.on_commit(lambda: vulnerabilities_webhook.delay(stamp))


def new_vulnerabilities(run_at: datetime) -> int:
    """Queue one message per CVE that the run at `run_at` opened and no host had open before it."""
    from vulnerabilities.models import CVE, HostVulnerability

    settings = AutomationSettings.load()
    hook = config.webhook_settings(settings)["vulnerabilities_webhook"]
    intgs = config.integrations(settings)
    ticket = next(
        (
            (kind, item)
            for kind in ("jira", "zendesk")
            for item in intgs[kind]
            if item.get("enable_software_vulnerabilities")
        ),
        None,
    )
    webhook_on = hook.get("enable_vulnerabilities_webhook") and hook.get("destination_url")
    if not (webhook_on or ticket):
        return 0
    opened = set(HostVulnerability.objects.filter(first_detected_at=run_at).values_list("cve", flat=True).distinct())
    if not opened:
        return 0
    # Open before this run (resolved by it or still open): not new to the fleet.
    earlier = set(
        HostVulnerability.objects.filter(cve__in=opened, first_detected_at__lt=run_at)
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=run_at))
        .values_list("cve", flat=True)
        .distinct()
    )
    new = sorted(opened - earlier)
    if not new:
        return 0
    meta = {row.cve: row for row in CVE.objects.filter(cve__in=new)}
    rows = (
        HostVulnerability.objects.filter(cve__in=new, resolved_at__isnull=True)
        .order_by("cve", "host_id")
        .values_list("cve", "host_id", "host__hostname", "host__computer_name")
        .distinct()
    )
    base = public_base_url()
    hosts_by_cve: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for cve, host_id, name, computer in rows:
        if not hosts_by_cve[cve] or hosts_by_cve[cve][-1]["id"] != host_id:
            hosts_by_cve[cve].append(_host_part(host_id, name, computer, base))
    queued = 0
    with transaction.atomic():
        for cve in new:
            hosts = hosts_by_cve.get(cve) or []
            if not hosts:
                continue
            vuln = _vulnerability(cve, meta.get(cve))
            if webhook_on:
                size = hook.get("host_batch_size") or len(hosts)  # Fleet: 0 means every host in one request
                for start in range(0, len(hosts), size):
                    payload = {
                        "timestamp": rfc3339(run_at),
                        "vulnerability": {**vuln, "hosts_affected": hosts[start : start + size]},
                    }
                    queue(Kind.VULNERABILITIES, hook["destination_url"], payload)
                    queued += 1
            else:
                kind, item = ticket
                summary = f"Vulnerability {cve} detected on {len(hosts)} host(s)"
                lines = [f"{cve}: {vuln['details_link']}"]
                if "cvss_score" in vuln:
                    lines.append(f"CVSS score: {vuln['cvss_score']}")
                lines += ["", "Affected hosts:"] + [f"- {host['display_name']} ({host['url']})" for host in hosts]
                body = _ticket(kind, item, summary, "\n".join(lines))
                queue(kind, item["url"], body, None, {"integration": _target(kind, item)})
                queued += 1
    return queued


def _vulnerability(cve: str, row: Any) -> dict[str, Any]:
    """Fleet's WebhookPayload: the premium fields only when known (omitempty)."""
    vuln: dict[str, Any] = {"cve": cve, "details_link": f"https://nvd.nist.gov/vuln/detail/{cve}"}
    if row is not None:
        if row.epss_probability is not None:
            vuln["epss_probability"] = row.epss_probability
        if row.cvss_score is not None:
            vuln["cvss_score"] = row.cvss_score
        vuln["cisa_known_exploit"] = row.cisa_known_exploit
        if row.published is not None:
            vuln["cve_published"] = rfc3339(row.published)
    return vuln
