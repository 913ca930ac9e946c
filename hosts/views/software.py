"""The software inventory page: every title across visible hosts, host counts, CSV export."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from fleetsite.api.csv import csv_response
from fleetsite.dbrouter import reads_from_replica
from fleetsite.ui import Column, Table, link, login_required, paginate, render_list
from hosts import software
from hosts.forms import team_choices


class SoftwareFilterForm(forms.Form):
    query = forms.CharField(required=False, label="Search", widget=forms.TextInput(attrs={"type": "search"}))
    team_id = forms.ChoiceField(required=False, label="Team")

    def __init__(self, *args: object, user: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team_id"].choices = team_choices(user)


def _rows(request: HttpRequest) -> tuple[SoftwareFilterForm, QuerySet, QuerySet]:
    form = SoftwareFilterForm(request.GET, user=request.user)
    team_id = None
    if form.is_valid() and form.cleaned_data["team_id"] not in ("", None):
        team_id = int(form.cleaned_data["team_id"])
    installs = software.installs_for(request.user, team_id)
    titles = software.titles(
        installs, request.GET.get("query", "").strip(), request.GET.get("order_key"), request.GET.get("order_direction")
    )
    return form, installs, titles


@reads_from_replica
@login_required
def software_list(request: HttpRequest) -> HttpResponse:
    form, installs, titles = _rows(request)
    rows, page = paginate(request, titles)
    versions = software.title_versions([row["title_id"] for row in rows], installs)
    table = Table(
        columns=[
            Column("Name", lambda r: r["name"], sort="name"),
            Column("Source", lambda r: r["source"], sort="source"),
            Column(
                "Versions",
                lambda r: (
                    ", ".join(v["version"] or "—" for v in versions[r["title_id"]][:6])
                    + (" …" if len(versions[r["title_id"]]) > 6 else "")
                ),
            ),
            Column(
                "Hosts",
                lambda r: link(f"/hosts/?software_title_id={r['title_id']}", r["hosts_count"]),
                sort="hosts_count",
                numeric=True,
            ),
        ],  # fmt: skip
        rows=rows,
        row_id=lambda r: r["title_id"],
        empty="No software reported yet. Hosts send their software with their detail queries.",
    )
    context = {
        "title": "Software",
        "table": table,
        "page": page,
        "filter_form": form,
        "export_url": "/software/export.csv",
    }
    return render_list(request, "generic/object_list.html", context)


@login_required
def software_export(request: HttpRequest) -> HttpResponse:
    _, _, titles = _rows(request)
    rows = ([r["title_id"], r["name"], r["source"], r["versions_count"], r["hosts_count"]] for r in titles.iterator())
    return csv_response("software.csv", ["id", "name", "source", "versions_count", "hosts_count"], rows)
