"""The dashboard at `/`: host counts by status and platform, hosts needing attention, recent activity."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts import permissions
from activities.feed import visible_activities
from fleetsite import workers
from hosts.constants import LOW_DISK_GB, MISSING_AFTER
from hosts.models import Host
from hosts.summary import cached_summary_counts
from hosts.tables import PLATFORM_NAMES


def dashboard(request: HttpRequest) -> HttpResponse:
    """Logged-in people get the dashboard; everyone else the login page."""
    if not request.user.is_authenticated or request.user.api_only:
        return redirect("ui-login")
    hosts = permissions.scope_to_teams(Host.objects.all(), request.user)
    counts = cached_summary_counts(request.user, hosts, LOW_DISK_GB)
    now = timezone.now()
    missing = hosts.filter(seen_time__lte=now - MISSING_AFTER).order_by("seen_time")[:8]
    low_disk = hosts.filter(gigs_disk_space_available__lt=LOW_DISK_GB, gigs_total_disk_space__gt=0).order_by(
        "gigs_disk_space_available"
    )[:8]
    total = counts["totals_hosts_count"] or 1
    platforms = [
        {
            **p,
            "name": PLATFORM_NAMES.get(p["platform"], p["platform"] or "unknown"),
            "percent": 100 * p["hosts_count"] / total,
        }
        for p in counts["platforms"]
    ]
    context = {
        "title": "Dashboard",
        "counts": counts,
        "platforms": platforms,
        "missing": missing,
        "low_disk": low_disk,
        "low_disk_gb": LOW_DISK_GB,
        "activities": visible_activities(request.user)[:15],
        "worker_problems": workers.problems(),
        # Adding hosts takes an enroll secret: observers get no button that would answer 403.
        "can_add_hosts": permissions.writable_team_ids(request.user, permissions.Kind.SECRET) != set(),
    }
    return render(request, "fleetsite/dashboard.html", context)
