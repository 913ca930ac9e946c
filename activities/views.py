"""The activity page: the whole feed the user may see, filtered as `GET /activities` is."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse

from activities.feed import CSV_HEADER, csv_row, describe_html, existing_objects, visible_activities
from activities.filtersets import ActivityFilterSet
from activities.models import Activity
from fleetsite.api.csv import csv_response
from fleetsite.dbrouter import reads_from_replica
from fleetsite.templatetags.fleetsite_ui import when
from fleetsite.ui import Column, Table, login_required, paginate, render_list


class ActivityFilterForm(forms.Form):
    query = forms.CharField(required=False, label="Actor", widget=forms.TextInput(attrs={"type": "search"}))
    activity_type = forms.ChoiceField(required=False, label="Type")
    start_created_at = forms.DateTimeField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end_created_at = forms.DateTimeField(required=False, label="Until", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        kinds = Activity.objects.order_by("type").values_list("type", flat=True).distinct()
        self.fields["activity_type"].choices = [("", "Any")] + [(k, k.replace("_", " ")) for k in kinds]


def _filtered(request: HttpRequest) -> tuple[object, str]:
    filterset = ActivityFilterSet(request.GET, queryset=visible_activities(request.user), request=request)
    if not filterset.is_valid():
        return Activity.objects.none(), "; ".join(f"{k}: {' '.join(v)}" for k, v in filterset.errors.items())
    return filterset.qs, ""


@reads_from_replica
@login_required
def activity_list(request: HttpRequest) -> HttpResponse:
    queryset, errors = _filtered(request)
    rows, page = paginate(request, queryset, per_page=50)
    existing = existing_objects(rows)
    table = Table(
        columns=[
            Column("When", lambda a: when(a.created_at), sort="created_at"),
            Column("Who", lambda a: a.actor_full_name or a.actor_email or "Fleetsite", sort="actor_email"),
            Column("What", lambda a: describe_html(a, existing)),
            Column("Type", lambda a: a.type, sort="type"),
        ],
        rows=rows,
        empty="No activity matches.",
    )
    context = {
        "title": "Activity",
        "table": table,
        "page": page,
        "filter_form": ActivityFilterForm(request.GET),
        "filter_errors": errors,
        "export_url": "/activity/export.csv",
    }
    return render_list(request, "generic/object_list.html", context)


@login_required
def activity_export(request: HttpRequest) -> HttpResponse:
    queryset, _ = _filtered(request)
    return csv_response("activities.csv", CSV_HEADER, (csv_row(a) for a in queryset.iterator(2000)))
