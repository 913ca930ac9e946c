"""Saved-query pages: the list (search, team, platform, paging), the editor with its schedule, deletion,
and the SQL check the editor calls as you type. The rules are `queries.saved`'s, as for the REST API.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from accounts import permissions
from accounts.models import User
from fleetsite.api.errors import FleetAPIError
from fleetsite.ui import Column, Table, link, login_required, paginate, render_list
from queries import saved
from queries.filtersets import QueryFilterSet
from queries.forms import INTERVALS, QueryFilterForm, QueryForm
from queries.models import Query
from queries.running import may_run
from queries.sql import SQLError, validate_read_only


def _schedule(query: Query) -> str:
    if not query.interval:
        return "—"
    return dict(INTERVALS).get(query.interval) or f"Every {query.interval} s"


def _actions(user: User, query: Query) -> str:
    report = link(reverse("ui-query-report", args=[query.pk]), "Report")
    if not may_run(user, query):
        return report
    return format_html('{} · <a class="button small" href="/queries/live/?query_id={}">Run</a>', report, query.pk)


def _filtered(request: HttpRequest) -> tuple[QuerySet, str]:
    """Readable queries narrowed by the filter bar; a bad filter shows no rows and says why."""
    queryset = saved.readable_queries(request.user)
    team = request.GET.get("team_id", "")
    if team == "0":
        queryset = queryset.filter(team__isnull=True)
    elif team.isdigit():
        queryset = queryset.filter(team_id=int(team))
    elif team:
        return queryset.none(), "team_id: not a team"
    filterset = QueryFilterSet(request.GET, queryset=queryset)
    if not filterset.is_valid():
        return queryset.none(), "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in filterset.errors.items())
    return filterset.qs, ""


@login_required
def query_list(request: HttpRequest) -> HttpResponse:
    queryset, errors = _filtered(request)
    rows, page = paginate(request, queryset)
    user = request.user
    table = Table(
        columns=[
            Column("Name", lambda q: link(reverse("ui-query", args=[q.pk]), q.name), sort="name"),
            Column("Team", lambda q: q.team.name if q.team else "All teams", sort="team_id"),
            Column("Schedule", _schedule, sort="interval"),
            Column("Platform", lambda q: q.platform or "All", sort="platform"),
            Column("Logging", lambda q: q.get_logging_display()),
            Column("Author", lambda q: q.author.name if q.author else "—", sort="author_name"),
            Column("", lambda q: _actions(user, q)),
        ],
        rows=rows,
        empty="No saved queries match. A saved query can run on a schedule and keep a report of its results.",
    )
    can_add = permissions.writable_team_ids(user, permissions.Kind.QUERY) != set()
    context: dict[str, Any] = {
        "title": "Queries",
        "table": table,
        "page": page,
        "filter_form": QueryFilterForm(request.GET, user=user),
        "filter_errors": errors,
        "add_url": reverse("ui-query-new") if can_add else None,
        "add_label": "New query",
    }
    return render_list(request, "generic/object_list.html", context)


def _visible(request: HttpRequest, query_id: int) -> Query:
    query = saved.readable_queries(request.user).filter(pk=query_id).first()
    if query is None:
        raise Http404("no such query")
    return query


def _initial(query: Query) -> dict[str, Any]:
    fields = ("name", "description", "query", "interval", "min_osquery_version", "logging", "automations_enabled",
              "discard_data", "observer_can_run", "report_max_rows", "report_max_age_days")  # fmt: skip
    initial = {name: getattr(query, name) for name in fields}
    initial["platform"] = [p for p in query.platform.split(",") if p]
    return initial


def _put_errors(form: QueryForm, errors: dict[str, Any]) -> None:
    for name, reasons in errors.items():
        for reason in reasons if isinstance(reasons, list) else [reasons]:
            form.add_error(name if name in form.fields else None, str(reason))


@login_required
def query_edit(request: HttpRequest, query_id: int | None = None) -> HttpResponse:
    """Create or edit; people who may not change the query see it read-only, with Run and Report."""
    query = _visible(request, query_id) if query_id is not None else None
    editing = query is not None
    if not editing and permissions.writable_team_ids(request.user, permissions.Kind.QUERY) == set():
        raise PermissionDenied
    read_only = editing and not saved.may_write(request.user, query.team_id)
    initial = _initial(query) if editing else {}
    data = request.POST if request.method == "POST" and not read_only else None
    form = QueryForm(data, initial=initial, user=request.user, editing=editing, read_only=read_only)
    if data is not None and form.is_valid():
        serializer = saved.QuerySerializer(data=form.payload(), partial=editing)
        if not serializer.is_valid():
            _put_errors(form, serializer.errors)
        else:
            try:
                if editing:
                    query = saved.update(request.user, query, serializer.validated_data)
                    messages.success(request, f"Saved {query.name}.")
                else:
                    query = saved.create(request.user, serializer.validated_data)
                    messages.success(request, f"Created {query.name}.")
                return redirect("ui-query", query.pk)
            except FleetAPIError as exc:
                form.add_error(exc.name if exc.name in form.fields else None, exc.reason)
    context = {
        "title": f"Query: {query.name}" if editing else "New query",
        "form": form,
        "query": query,
        "read_only": read_only,
        "can_run": editing and may_run(request.user, query),
        "cancel_url": reverse("ui-queries"),
        "submit_label": "Save" if editing else "Create",
    }
    return render(request, "queries/query_edit.html", context)


@login_required
def query_delete(request: HttpRequest, query_id: int) -> HttpResponse:
    query = _visible(request, query_id)
    if not saved.may_write(request.user, query.team_id):
        raise PermissionDenied
    if request.method == "POST" and request.POST.get("confirm"):
        saved.delete(request.user, [query])
        messages.success(request, f"Deleted {query.name}.")
        return redirect("ui-queries")
    context = {
        "title": f"Delete query {query.name}?",
        "message": "Hosts stop running it on their schedule, and its report is deleted.",
        "cancel_url": reverse("ui-query", args=[query.pk]),
    }
    return render(request, "generic/object_delete.html", context)


@login_required
@require_POST
def check_sql(request: HttpRequest) -> HttpResponse:
    """The editor's as-you-type check: OK, or the error with the offending line and a caret at the column.

    Query, policy and label editors send `query`; the software installer form its `pre_install_query`.
    """
    sql = request.POST.get("query", request.POST.get("pre_install_query", ""))
    if not sql.strip():
        return HttpResponse("")
    try:
        validate_read_only(sql)
    except SQLError as exc:
        context: dict[str, Any] = {"error": exc}
        if exc.line is not None and exc.col is not None:
            lines = sql.splitlines() or [""]
            line = lines[min(exc.line, len(lines)) - 1]
            context.update(line_text=line, caret=" " * max(exc.col - 1, 0) + "^")
        return render(request, "queries/_sql_check.html", context)
    return render(request, "queries/_sql_check.html", {"ok": True})
