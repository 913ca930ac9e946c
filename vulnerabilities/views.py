"""Admin UI pages: the CVE list with its chart, one CVE with the hosts that have (had) it, OS versions.

Each page scopes hosts to the reader's teams first and builds everything from that queryset, so a team
user's counts, rows and chart never include another team's hosts. Sorting and paging happen in SQL and
every page costs the same number of queries whatever the number of rows.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import SafeString

from accounts import permissions
from fleetsite.dbrouter import reads_from_replica
from fleetsite.templatetags.fleetsite_ui import when_html
from fleetsite.ui import Column, Table, badge, keyset_paginate, link, login_required, paginate, render_list
from hosts.forms import team_choices
from hosts.models import Host
from vulnerabilities.api.serializers import details_link
from vulnerabilities.chart import open_vulnerabilities_svg
from vulnerabilities.listing import (
    CVE_SORTS,
    OS_SORTS,
    SEVERITIES,
    CVEFilters,
    cursor_value,
    cve_history,
    cve_keyset,
    open_counts_by_day,
    open_cve_rows,
    os_version_rows,
    with_cve_columns,
)
from vulnerabilities.models import CVE, Advisory, HostVulnerability

CHART_DAYS = 30


class TeamForm(forms.Form):
    team_id = forms.ChoiceField(required=False, label="Team")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team_id"].choices = team_choices(user)

    def chosen_team(self) -> int | None:
        """The chosen team (0: no team); choices hold only teams the user sees, so anything else is ignored."""
        if self.is_valid() and self.cleaned_data["team_id"] not in ("", None):
            return int(self.cleaned_data["team_id"])
        return None


class VulnerabilityFilterForm(TeamForm):
    query = forms.CharField(required=False, label="Search CVE", widget=forms.TextInput(attrs={"type": "search"}))
    exploit = forms.BooleanField(required=False, label="Known exploited only")
    min_cvss = forms.FloatField(required=False, min_value=0, max_value=10, label="Min CVSS",
                                widget=forms.NumberInput(attrs={"step": "0.1"}))  # fmt: skip
    severity = forms.ChoiceField(
        required=False, label="Severity", choices=[("", "Any"), *((s, s.title()) for s in SEVERITIES)]
    )

    field_order = ["query", "exploit", "min_cvss", "severity", "team_id"]

    def filters(self) -> CVEFilters:
        """The list's (and its chart's) filters; call after `is_valid()`."""
        data = self.cleaned_data
        return CVEFilters(
            exploit=bool(data.get("exploit")),
            min_cvss=data.get("min_cvss"),
            severity=data.get("severity") or "",
            query=(data.get("query") or "").strip(),
        )


def visible_hosts(request: HttpRequest, team_id: int | None = None) -> QuerySet:
    """The hosts the reader may see, optionally of one team (0: hosts with no team)."""
    hosts = permissions.scope_to_teams(Host.objects.all(), request.user)
    if team_id == 0:
        return hosts.filter(team__isnull=True)
    if team_id is not None:
        return hosts.filter(team_id=team_id)
    return hosts


def _sort(request: HttpRequest, keys: dict[str, str], default: str) -> tuple[str, bool]:
    """(column, descending) from order_key/order_direction; unknown keys fall back to `default`, counts descending."""
    column = keys.get(request.GET.get("order_key", ""), default)
    direction = request.GET.get("order_direction") or ("desc" if column == default else "asc")
    return column, direction == "desc"


def cve_link(cve: str) -> SafeString:
    return link(f"/vulnerabilities/{cve}/", cve)


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f} %"


def _kev(value: bool | None) -> SafeString | str:
    return badge("Known exploited", "fail") if value else ""


@reads_from_replica
@login_required
def vulnerability_list(request: HttpRequest) -> HttpResponse:
    """The CVEs open on the reader's hosts, with a chart of the same filtered set over the last 30 days.

    Next and Previous page by keyset (the edge row's sort value and CVE), so page 5,000 of a list of
    hundreds of thousands of CVEs costs what page 2 does.
    """
    form = VulnerabilityFilterForm(request.GET, user=request.user)
    valid = form.is_valid()
    filters = form.filters() if valid else CVEFilters()
    hosts = visible_hosts(request, form.chosen_team())
    column, descending = _sort(request, CVE_SORTS, "hosts_count")
    keyset = cve_keyset(column, descending)
    rows_qs = open_cve_rows(hosts, filters, keyset)
    if not valid:
        rows_qs = rows_qs.none()
    rows, page = keyset_paginate(
        request,
        rows_qs,
        keyset,
        parse=lambda raw: cursor_value(column, raw),
        cursor_of=lambda row: (row[column], row["cve"]),
        fetch=lambda rows: with_cve_columns(list(rows)),
    )
    now = timezone.now()
    table = Table(
        columns=[
            Column("CVE", lambda r: cve_link(r["cve"]), sort="cve"),
            Column("CVSS", lambda r: _score(r["cvss_score"]), sort="cvss_score", numeric=True),
            Column("EPSS", lambda r: _percent(r["epss_probability"]), sort="epss_probability", numeric=True),
            Column("Exploited", lambda r: _kev(r["cisa_known_exploit"]), sort="cisa_known_exploit"),
            Column("Published", lambda r: SafeString(when_html(r["cve_published"], now)), sort="cve_published"),
            Column(
                "Hosts",
                lambda r: link(f"/hosts/?vulnerability={r['cve']}", r["hosts_count"]),
                sort="hosts_count",
                numeric=True,
            ),
            Column("First detected", lambda r: SafeString(when_html(r["created_at"], now)), sort="created_at"),
        ],
        rows=rows,
        row_id=lambda r: r["cve"],
        empty="No vulnerabilities found on these hosts. The matching job runs hourly once feeds are imported.",
    )
    # The chart sits in the results block, so every filter change redraws it from the same hosts and CVEs.
    points = open_counts_by_day(hosts, CHART_DAYS, now, filters) if valid else []
    context = {
        "table": table,
        "page": page,
        "chart": SafeString(open_vulnerabilities_svg(points)),
        "filter_errors": "; ".join(f"{name}: {' '.join(errs)}" for name, errs in form.errors.items()),
    }
    return render_list(
        request,
        "vulnerabilities/list.html",
        context,
        lambda: {"title": "Vulnerabilities", "filter_form": form},
        results_template="vulnerabilities/_results.html",
    )


@reads_from_replica
@login_required
def cve_detail(request: HttpRequest, cve: str) -> HttpResponse:
    """One CVE: what the feeds say and every host of the reader's teams that has or had it."""
    cve = cve.strip()
    known = CVE.objects.filter(cve=cve).first()
    hosts = visible_hosts(request)
    history = cve_history(hosts, cve)
    rows, page = paginate(request, history)
    if known is None and not page.total:
        raise Http404
    open_hosts = (
        HostVulnerability.objects.filter(cve=cve, resolved_at__isnull=True, host__in=hosts)
        .values("host_id")
        .distinct()
        .count()
    )
    advisories = list(
        Advisory.objects.filter(cves__cve=cve).order_by("osv_id").values_list("osv_id", "summary").distinct()
    )
    now = timezone.now()
    table = Table(
        columns=[
            Column("Host", lambda r: link(f"/hosts/{r.host_id}/", r.host.display_name or f"host {r.host_id}")),
            Column("Found in", _found_in),
            Column("First detected", lambda r: SafeString(when_html(r.first_detected_at, now))),
            Column(
                "Resolved",
                lambda r: SafeString(when_html(r.resolved_at, now)) if r.resolved_at else badge("Open", "fail"),
            ),
        ],
        rows=rows,
        empty="No host of yours has had this vulnerability.",
    )
    context = {
        "title": cve,
        "cve": known,
        "cve_id": cve,
        "details_link": details_link(cve),
        "references": _references(known),
        "cvss": _score(known.cvss_score if known else None),
        "epss": _percent(known.epss_probability if known else None),
        "advisories": [(osv_id, summary, f"https://osv.dev/vulnerability/{osv_id}") for osv_id, summary in advisories],
        "open_hosts": open_hosts,
        "table": table,
        "page": page,
    }
    if request.htmx and request.htmx.target == "results":
        return render(request, "generic/_results.html", context)
    return render(request, "vulnerabilities/cve.html", context)


def _references(cve: CVE | None) -> list[dict[str, Any]]:
    """The CVE's NVD references that are http(s) links (import checks them; the page checks again)."""
    refs = cve.references if cve is not None and isinstance(cve.references, list) else []
    return [r for r in refs if isinstance(r, dict) and str(r.get("url", "")).startswith(("https://", "http://"))]


def _found_in(row: HostVulnerability) -> SafeString | str:
    if row.software is not None:
        return link(f"/hosts/?software_id={row.software_id}", f"{row.software.name} {row.software.version}")
    if row.os_version is not None:
        return link(f"/hosts/?os_version_id={row.os_version_id}", row.os_version.name)
    return "—"


@reads_from_replica
@login_required
def os_version_list(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.GET, user=request.user)
    column, descending = _sort(request, OS_SORTS, "hosts_count")
    rows, page = paginate(request, os_version_rows(visible_hosts(request, form.chosen_team()), column, descending))
    table = Table(
        columns=[
            Column("Name", lambda r: link(f"/hosts/?os_version_id={r.pk}", r.name), sort="name"),
            Column("Version", lambda r: r.version or "—", sort="version"),
            Column("Platform", lambda r: r.platform, sort="platform"),
            Column(
                "Hosts",
                lambda r: link(f"/hosts/?os_version_id={r.pk}", r.hosts_count),
                sort="hosts_count",
                numeric=True,
            ),
            Column(
                "Vulnerabilities", lambda r: r.vulnerabilities_count or 0, sort="vulnerabilities_count", numeric=True
            ),
        ],  # fmt: skip
        rows=rows,
        empty="No OS versions yet: the matching job records them from the hosts' reports.",
    )
    context = {"table": table, "page": page}
    return render_list(
        request, "generic/object_list.html", context, lambda: {"title": "OS versions", "filter_form": form}
    )
