"""Label pages: the list with host counts, the editor (dynamic or manual), deletion. Rules are `queries.labels`'s."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from fleetsite.api.errors import FleetAPIError
from fleetsite.ui import Column, Table, badge, link, login_required, paginate, render_list
from hosts.choices import LabelMembershipType, LabelType
from hosts.labels import host_counts
from hosts.models import Label
from queries import labels
from queries.forms import LabelFilterForm, LabelForm


@login_required
def label_list(request: HttpRequest) -> HttpResponse:
    queryset = labels.visible_labels(request.user)
    form = LabelFilterForm(request.GET)
    if form.is_valid():
        data = form.cleaned_data
        if data["query"]:
            queryset = queryset.filter(name__icontains=data["query"].strip())
        if data["label_type"]:
            queryset = queryset.filter(label_type=data["label_type"])
        if data["label_membership_type"]:
            queryset = queryset.filter(label_membership_type=data["label_membership_type"])
    rows, page = paginate(request, queryset.order_by("label_type", "name"))
    counts = host_counts(request.user, [label.pk for label in rows])
    table = Table(
        columns=[
            Column("Name", lambda lb: link(reverse("ui-label", args=[lb.pk]), lb.name)),
            Column("Type", lambda lb: badge("built-in") if lb.label_type == LabelType.BUILTIN else ""),
            Column("Membership", lambda lb: lb.get_label_membership_type_display()),
            Column("Platform", lambda lb: lb.platform or "All"),
            Column("Hosts", lambda lb: link(f"/hosts/?label_id={lb.pk}", counts.get(lb.pk, 0)), numeric=True),
            Column("Description", lambda lb: lb.description),
        ],
        rows=rows,
        empty="No labels match.",
    )
    context: dict[str, Any] = {
        "title": "Labels",
        "table": table,
        "page": page,
        "filter_form": form,
        "add_url": reverse("ui-label-new") if labels.may_write(request.user) else None,
        "add_label": "New label",
    }
    return render_list(request, "generic/object_list.html", context)


def _label(request: HttpRequest, label_id: int) -> Label:
    label = labels.visible_labels(request.user).filter(pk=label_id).first()
    if label is None:
        raise Http404("no such label")
    return label


def _initial(label: Label, user: Any) -> dict[str, Any]:
    initial = {name: getattr(label, name) for name in ("name", "description", "query", "platform")}
    initial["label_membership_type"] = label.label_membership_type
    if label.label_membership_type == LabelMembershipType.MANUAL:
        # Only the hosts this user sees: a global label's members include other teams' hosts.
        initial["hosts"] = "\n".join(labels.member_identifiers(user, label))
    return initial


@login_required
def label_edit(request: HttpRequest, label_id: int | None = None) -> HttpResponse:
    label = _label(request, label_id) if label_id is not None else None
    editing = label is not None
    if not editing and not labels.may_write(request.user):
        raise PermissionDenied
    read_only = editing and (not labels.may_write(request.user, label.team_id) or label.label_type == LabelType.BUILTIN)
    manual = editing and label.label_membership_type == LabelMembershipType.MANUAL
    data = request.POST if request.method == "POST" and not read_only else None
    form = LabelForm(
        data,
        initial=_initial(label, request.user) if editing else {},
        editing=editing,
        manual=manual,
        read_only=read_only,
    )
    if data is not None and form.is_valid():
        cleaned = form.cleaned_data
        try:
            identifiers = form.host_identifiers()
            host_ids = labels.resolve_hosts(request.user, identifiers) if identifiers else []
            if editing:
                changes: dict[str, Any] = {"name": cleaned["name"], "description": cleaned["description"]}
                if manual:
                    changes["host_ids"] = host_ids
                label = labels.modify(request.user, label, changes)
            else:
                is_manual = cleaned["label_membership_type"] == LabelMembershipType.MANUAL
                label = labels.create(
                    request.user,
                    cleaned["name"],
                    cleaned["description"],
                    "" if is_manual else cleaned["query"],
                    cleaned["platform"],
                    host_ids if is_manual else None,
                )
            messages.success(request, f"Saved label {label.name}.")
            return redirect("ui-label", label.pk)
        except FleetAPIError as exc:
            form.add_error(exc.name if exc.name in form.fields else None, exc.reason)
    context = {
        "title": f"Label: {label.name}" if editing else "New label",
        "form": form,
        "label": label,
        "read_only": read_only,
        "cancel_url": reverse("ui-labels"),
        "submit_label": "Save" if editing else "Create",
    }
    return render(request, "queries/label_edit.html", context)


@login_required
def label_delete(request: HttpRequest, label_id: int) -> HttpResponse:
    label = _label(request, label_id)
    if not labels.may_write(request.user, label.team_id) or label.label_type == LabelType.BUILTIN:
        raise PermissionDenied
    if request.method == "POST" and request.POST.get("confirm"):
        labels.delete(request.user, label)
        messages.success(request, f"Deleted label {label.name}.")
        return redirect("ui-labels")
    context = {
        "title": f"Delete label {label.name}?",
        "message": f"{_hosts_text(label.hosts.count())} lose this label; the hosts themselves stay.",
        "cancel_url": reverse("ui-label", args=[label.pk]),
    }
    return render(request, "generic/object_delete.html", context)


def _hosts_text(count: int) -> str:
    return "1 host will" if count == 1 else f"{count:,} hosts will"
