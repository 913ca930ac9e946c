"""The query report page: the latest rows per host, filtered by host, paged, exported as CSV."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse

from fleetsite.templatetags.fleetsite_ui import when
from fleetsite.ui import Column, Table, link, login_required, paginate, render_list
from queries import reports, saved
from queries.api.reports import report_csv
from queries.forms import ReportFilterForm
from queries.models import Query, QueryReportRow

# The host filter lists at most this many hosts (the report may span thousands).
HOST_CHOICES = 500


def _query(request: HttpRequest, query_id: int) -> Query:
    query = saved.readable_queries(request.user).filter(pk=query_id).first()
    if query is None:
        raise Http404("no such query")
    return query


def _rows(request: HttpRequest, query: Query) -> Any:
    host_id = request.GET.get("host_id", "")
    return reports.report_rows(request.user, query, int(host_id) if host_id.isdigit() else None)


def _column(name: str) -> Column:
    return Column(name, lambda row: reports.columns(row.data).get(name, ""))


@login_required
def query_report(request: HttpRequest, query_id: int) -> HttpResponse:
    query = _query(request, query_id)
    rows, page = paginate(request, _rows(request, query))
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(reports.columns(row.data)))
    table = Table(
        columns=[
            Column("Host", lambda r: link(reverse("ui-host", args=[r.host_id]), reports.host_name(r.host))),
            Column("Last fetched", lambda r: when(r.last_fetched)),
            *(_column(name) for name in names),
        ],
        rows=rows,
        empty="No results yet. Scheduled queries fill their report as hosts send results.",
    )
    hosts = (
        reports.report_rows(request.user, query)
        .order_by("host__hostname")
        .values_list("host_id", "host__hostname")
        .distinct()[:HOST_CHOICES]
    )
    context = {
        "title": f"Report: {query.name}",
        "query": query,
        "table": table,
        "page": page,
        "filter_form": ReportFilterForm(request.GET, hosts=list(hosts)),
        "export_url": reverse("ui-query-report-csv", args=[query.pk]),
        "clipped": reports.is_clipped(query),
        "row_total": QueryReportRow.objects.filter(query=query).count(),
    }
    return render_list(request, "queries/report.html", context)


@login_required
def query_report_csv(request: HttpRequest, query_id: int) -> HttpResponse:
    query = _query(request, query_id)
    return report_csv(query, list(_rows(request, query)))
