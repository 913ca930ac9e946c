"""One host: vitals, network, disk, users, labels, software, policies, query reports and activity."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from accounts import permissions
from accounts.models import Team
from activities.models import Activity
from fleetsite.ui import login_required
from hosts import actions
from hosts.actions import HostActionDenied
from hosts.api.serializers import host_policies
from hosts.forms import team_choices
from hosts.models import Host
from hosts.tables import PLATFORM_NAMES, status_badge
from vulnerabilities.api.serializers import host_software_cves

# A host page shows the newest rows of each query report; the report page has the rest.
REPORT_ROWS = 20


def _visible_host(request: HttpRequest, pk: int) -> Host:
    host = permissions.scope_to_teams(Host.objects.select_related("team"), request.user).filter(pk=pk).first()
    if host is None:
        raise Http404
    return host


def _query_reports(host: Host) -> list[dict]:
    """The host's rows of each saved query's report, newest first, read-only (queries app owns them)."""
    from queries.models import QueryReportRow

    reports: dict[int, dict] = {}
    rows = (
        QueryReportRow.objects.filter(host.belongs_here("query__"), host=host)
        .select_related("query")
        .order_by("query__name", "-last_fetched")
    )
    for row in rows[:500]:
        report = reports.setdefault(row.query_id, {"query": row.query, "rows": [], "columns": []})
        if len(report["rows"]) < REPORT_ROWS:
            report["rows"].append(row.data)
            for column in row.data:
                if column not in report["columns"]:
                    report["columns"].append(column)
        report["last_fetched"] = max(report.get("last_fetched") or row.last_fetched, row.last_fetched)
    for report in reports.values():
        report["table"] = [[r.get(c, "") for c in report["columns"]] for r in report["rows"]]
    return list(reports.values())


@login_required
def host_detail(request: HttpRequest, pk: int) -> HttpResponse:
    host = _visible_host(request, pk)
    now = timezone.now()
    can_write = permissions.can_write_team(request.user, host.team_id)
    software = host.software_installs.select_related("software").order_by("software__name", "software__version")
    shown = list(software[:1000])
    # The CVEs open on this host through each version (one query), as the matching job found them.
    cves = host_software_cves(host.pk)
    context = {
        "title": host.display_name or f"host {host.pk}",
        "host": host,
        "status": status_badge(host.seen_time, host.online_until > now, now),
        "platform_name": PLATFORM_NAMES.get(host.platform, host.platform),
        "can_write": can_write,
        "can_live_query": permissions.can(request.user, "write", "live_query", host.team_id),
        "labels": host.labels.filter(host.belongs_here()).order_by("name"),
        "users": host.users.order_by("uid", "username")[:500],
        "software": [(install, cves.get(install.software_id, [])) for install in shown],
        "software_count": software.count(),
        "policies": host_policies(host),
        "reports": _query_reports(host),
        "activities": Activity.objects.filter(host=host)[:20],
        "team_choices": [c for c in team_choices(request.user, include_any=False)],
    }
    return render(request, "hosts/detail.html", context)


@login_required
def host_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """refetch, transfer or delete one host (delete asks first)."""
    host = _visible_host(request, pk)
    if request.method != "POST":
        return redirect("ui-host", pk=host.pk)
    try:
        if action == "refetch":
            actions.refetch(request.user, host)
            messages.success(request, "Refetch requested: fresh vitals arrive at the host's next check-in.")
        elif action == "transfer":
            value = request.POST.get("team", "")
            team = (
                None if value in ("0", "none") else Team.objects.filter(pk=value).first() if value.isdigit() else None
            )
            if value not in ("0", "none") and (team is None or not permissions.can_read_team(request.user, team.pk)):
                messages.error(request, "Choose a team.")
                return redirect("ui-host", pk=host.pk)
            actions.transfer(request.user, team, Host.objects.filter(pk=host.pk))
            messages.success(request, f"{host.display_name} moved to {team.name if team else 'No team'}.")
        elif action == "delete":
            if not request.POST.get("confirm"):
                if not permissions.can_write_team(request.user, host.team_id):
                    raise PermissionDenied
                return render(
                    request,
                    "generic/object_delete.html",
                    {
                        "title": f"Delete {host.display_name}",
                        "message": f"Delete the host {host.display_name}?",
                        "consequences": ["If its agent keeps running, it re-enrolls as a new host."],
                        "cancel_url": reverse("ui-host", args=[host.pk]),
                    },
                )
            actions.delete(request.user, Host.objects.filter(pk=host.pk))
            messages.success(request, f"{host.display_name} is deleted.")
            return redirect("ui-hosts")
        else:
            raise Http404
    except HostActionDenied as exc:
        raise PermissionDenied(str(exc)) from exc
    return redirect("ui-host", pk=host.pk)
