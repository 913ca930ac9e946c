"""The hosts list: filters (HostFilterSet, as the REST API), sorting, paging, bulk actions, CSV."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from accounts import permissions
from accounts.models import Team
from fleetsite.dbrouter import reads_from_replica
from fleetsite.ui import count_fragment, login_required, paginate, render_list
from hosts import actions
from hosts.api.views import HostActionDenied
from hosts.filtersets import HostFilterSet
from hosts.forms import BulkForm, bulk_team_menu, filter_bar
from hosts.models import Software
from hosts.paging import list_identity, page_ids
from hosts.summary import cached_count, hosts_csv
from hosts.tables import hosts_table, table_rows

HOSTS_PER_PAGE = 50

# Filter parameters a bulk action's "every matching host" may carry.
FILTER_PARAMS = (
    "query", "status", "team_id", "platform", "label_id", "policy_id", "policy_response", "software_title_id",
    "software_id", "low_disk_space",
)  # fmt: skip


def filtered_hosts(request: HttpRequest, params: QueryDict) -> tuple[QuerySet, str]:
    """Visible hosts filtered and ordered by HostFilterSet; an invalid filter gives no rows and its error."""
    from hosts.api.views import visible_hosts

    base = visible_hosts(request)
    filterset = HostFilterSet(params, queryset=base, request=request)
    if not filterset.is_valid():
        errors = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in filterset.errors.items())
        return base.none(), errors
    return filterset.qs, ""


@reads_from_replica
@login_required
def host_list(request: HttpRequest) -> HttpResponse:
    queryset, errors = filtered_hosts(request, request.GET)
    now = timezone.now()
    identity = list_identity(request, request.user)

    def window(number: int, per_page: int) -> tuple[list[dict[str, Any]], bool]:
        host_ids, more = page_ids(queryset, number, per_page, identity)
        return table_rows(host_ids), more

    count_url = reverse("ui-hosts-count")
    rows, page = paginate(request, queryset, per_page=HOSTS_PER_PAGE, count_url=count_url, window=window)
    can_bulk = permissions.writable_team_ids(request.user) != set()
    context = {
        "table": hosts_table(rows, now, selectable=can_bulk),
        "page": page,
        "filter_errors": errors,
        "bulk_template": "hosts/_bulk.html" if can_bulk else None,
    }

    def page_context() -> dict[str, Any]:
        title_id = request.GET.get("software_title_id", "")
        return {
            "title": "Hosts",
            "filter_bar": filter_bar(request.GET, request.user),
            "export_url": "/hosts/export.csv",
            # Adding hosts takes an enroll secret: no button for those who would get a 403.
            "add_url": "/hosts/add/"
            if permissions.writable_team_ids(request.user, permissions.Kind.SECRET) != set()
            else None,
            "add_label": "Add hosts",
            "bulk_url": "/hosts/bulk/",
            "bulk_team_menu": bulk_team_menu(request.user),
            "software_title": Software.objects.filter(pk=title_id).first() if title_id.isdigit() else None,
        }

    return render_list(request, "hosts/list.html", context, page_context)


@reads_from_replica
@login_required
def host_count(request: HttpRequest) -> HttpResponse:
    """The exact number of hosts matching the filters, for the list's pagination (see `paginate`)."""
    queryset, _ = filtered_hosts(request, request.GET)
    return count_fragment(
        request, queryset, per_page=HOSTS_PER_PAGE, count=lambda: cached_count(request.user, queryset, request)
    )


@login_required
def host_export(request: HttpRequest) -> HttpResponse:
    """Every host matching the current filters as CSV (streamed, not paged)."""
    queryset, _ = filtered_hosts(request, request.GET)
    return hosts_csv(queryset)


@login_required
def host_bulk(request: HttpRequest) -> HttpResponse:
    """Transfer or delete the ticked hosts, or every host matching the filters; delete asks first."""
    if request.method != "POST":
        return redirect("ui-hosts")
    form = BulkForm(request.POST, user=request.user)
    back = "/hosts/" + (f"?{request.POST.get('filters')}" if request.POST.get("filters") else "")
    if not form.is_valid():
        for error in [*form.non_field_errors(), *form.errors.get("team", [])]:
            messages.error(request, error)
        return redirect(back)
    data = form.cleaned_data
    if data["all_matching"]:
        params = QueryDict(data["filters"] or "")
        if not any(params.get(name) for name in FILTER_PARAMS):
            messages.error(request, "Set a filter first: a bulk action on every host needs at least one filter.")
            return redirect(back)
        hosts, errors = filtered_hosts(request, params)
        if errors:
            messages.error(request, errors)
            return redirect(back)
    else:
        from hosts.api.views import visible_hosts

        hosts = visible_hosts(request).filter(pk__in=data["ids"])
    count = hosts.count()
    try:
        if data["action"] == "transfer":
            team = None if data["team"] == "none" else Team.objects.filter(pk=data["team"]).first()
            if data["team"] != "none" and (team is None or not permissions.can_read_team(request.user, team.pk)):
                messages.error(request, "That team does not exist.")
                return redirect(back)
            if not request.POST.get("confirm"):
                where = team.name if team else "No team"
                effect = "Their team's queries, policies, agent options and secrets apply from the next check-in."
                step = (f"Move {count} hosts to {where}?", effect, "Move hosts", {"team": data["team"]})
                return _confirm(request, data, hosts, back, step)
            moved = actions.transfer(request.user, team, hosts)
            messages.success(request, f"Moved {moved} hosts to {team.name if team else 'No team'}.")
            return redirect(back)
        if not request.POST.get("confirm"):
            effect = "Their agents will re-enroll as new hosts if they keep running."
            return _confirm(request, data, hosts, back, (f"Delete {count} hosts?", effect, "Delete hosts", {}))
        deleted = actions.delete(request.user, hosts)
        messages.success(request, f"Deleted {deleted} hosts.")
    except HostActionDenied as exc:
        messages.error(request, f"Not allowed: {exc}.")
    return redirect(back)


def _confirm(
    request: HttpRequest, data: dict[str, Any], hosts: QuerySet, back: str, step: tuple[str, str, str, dict]
) -> HttpResponse:
    """The step before a bulk action: what will happen (`step`: title, effect, button, extra fields), to
    how many hosts, and the first ten of them; its form posts the same choice again with `confirm`."""
    title, message, label, hidden = step
    count = hosts.count()
    sample = list(hosts.order_by("hostname").values_list("hostname", flat=True)[:10])
    scope = {"all_matching": "on" if data["all_matching"] else "", "filters": data["filters"] or ""}
    return render(
        request,
        "generic/object_delete.html",
        {
            "title": title,
            "message": message,
            "consequences": sample + ([f"… and {count - len(sample)} more"] if count > len(sample) else []),
            "hidden": {"action": data["action"], **hidden, **scope},
            "hidden_ids": data["ids"],
            "cancel_url": back,
            "confirm_label": label,
        },
    )
