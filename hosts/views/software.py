"""The software inventory pages: titles and versions across visible hosts, host counts, CVEs, CSV export."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Exists, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.safestring import SafeString

from fleetsite.api.csv import csv_response
from fleetsite.dbrouter import reads_from_replica
from fleetsite.ui import Column, Table, badge, link, login_required, paginate, render_list
from hosts import software
from hosts.forms import team_choices


class SoftwareFilterForm(forms.Form):
    query = forms.CharField(required=False, label="Search", widget=forms.TextInput(attrs={"type": "search"}))
    vulnerable = forms.BooleanField(required=False, label="Vulnerable only")
    team_id = forms.ChoiceField(required=False, label="Team")
    title_id = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: object, user: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team_id"].choices = team_choices(user)


def _installs(request: HttpRequest) -> tuple[SoftwareFilterForm, QuerySet, dict[str, Any]]:
    """The visible installations the filters keep; a team the user cannot see is not among the choices."""
    form = SoftwareFilterForm(request.GET, user=request.user)
    data = form.cleaned_data if form.is_valid() else {}
    team = data.get("team_id")
    installs = software.installs_for(request.user, int(team) if team not in ("", None) else None)
    if data.get("vulnerable"):
        # This host has a CVE open through this version: matched for the host's own OS release.
        installs = installs.filter(Exists(software.open_here()))
    return form, installs, data


def _rows(request: HttpRequest) -> tuple[SoftwareFilterForm, QuerySet, QuerySet]:
    form, installs, _ = _installs(request)
    titles = software.titles(
        installs, request.GET.get("query", "").strip(), request.GET.get("order_key"), request.GET.get("order_direction")
    )
    return form, installs, titles


def _vulnerable_badge(vulnerable: bool) -> SafeString | str:
    return badge("Vulnerable", "fail") if vulnerable else ""


@reads_from_replica
@login_required
def software_list(request: HttpRequest) -> HttpResponse:
    form, installs, titles = _rows(request)
    rows, page = paginate(request, titles)
    vulnerable = software.vulnerable_titles(installs, rows)
    table = Table(
        columns=[
            Column("Name", lambda r: r["name"], sort="name"),
            Column("Source", lambda r: r["source"], sort="source"),
            Column(
                "Versions",
                lambda r: link(f"/software/versions/?title_id={r['title_id']}", r["versions_count"]),
                numeric=True,
            ),
            Column("Vulnerabilities", lambda r: _vulnerable_badge((r["name"], r["source"]) in vulnerable)),
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
    context = {"table": table, "page": page}

    def page_context() -> dict[str, Any]:
        return {
            "title": "Software",
            "filter_form": form,
            "export_url": "/software/export.csv",
        }

    return render_list(request, "hosts/software.html", context, page_context)


@reads_from_replica
@login_required
def software_versions(request: HttpRequest) -> HttpResponse:
    """Each version on its own row, with the CVEs open through it on the visible hosts (one title with `title_id`)."""
    form, installs, data = _installs(request)
    rows_qs = software.versions(
        installs,
        (data.get("query") or "").strip(),
        data.get("title_id"),
        request.GET.get("order_key"),
        request.GET.get("order_direction"),
    )
    rows, page = paginate(request, rows_qs)
    cves = software.open_cves_of_versions(installs, [row["version_id"] for row in rows])
    table = Table(
        columns=[
            Column("Name", lambda r: r["name"], sort="name"),
            Column("Version", lambda r: r["version"] or "—", sort="version"),
            Column("Source", lambda r: r["source"], sort="source"),
            Column("Vulnerabilities", lambda r: _cve_links(cves.get(r["version_id"], []))),
            Column(
                "Hosts",
                lambda r: link(f"/hosts/?software_id={r['version_id']}", r["hosts_count"]),
                sort="hosts_count",
                numeric=True,
            ),
        ],
        rows=rows,
        row_id=lambda r: r["version_id"],
        empty="No software versions match.",
    )
    context = {"table": table, "page": page}

    def page_context() -> dict[str, Any]:
        return {"title": "Software versions", "filter_form": form}

    return render_list(request, "hosts/software.html", context, page_context)


def _cve_links(cves: list[str]) -> SafeString:
    return SafeString(", ".join(link(f"/vulnerabilities/{cve}/", cve) for cve in cves) or "—")


@login_required
def software_export(request: HttpRequest) -> HttpResponse:
    _, _, titles = _rows(request)
    rows = ([r["title_id"], r["name"], r["source"], r["versions_count"], r["hosts_count"]] for r in titles.iterator())
    return csv_response("software.csv", ["id", "name", "source", "versions_count", "hosts_count"], rows)
