"""Policy pages: the list with pass/fail counts linking to the failing hosts, the editor, deletion."""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from accounts import permissions
from accounts.models import Team
from activities.record import record
from fleetsite.ui import Column, Table, badge, link, login_required, paginate, render_list
from queries.models import Policy
from queries.policies import counted_for
from queries.sql import SQLError, validate_read_only

PLATFORM_CHOICES = [("", "All platforms"), ("darwin", "macOS"), ("windows", "Windows"), ("linux", "Linux"),
                    ("chrome", "ChromeOS")]  # fmt: skip


class PolicyForm(forms.ModelForm):
    """A policy; its SQL must parse and only read, like every query Fleetsite sends."""

    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, empty_label="All teams (global)")
    platform = forms.ChoiceField(choices=PLATFORM_CHOICES, required=False)

    class Meta:
        model = Policy
        fields = ["name", "description", "query", "resolution", "platform", "critical", "webhook_enabled", "team"]
        widgets = {"query": forms.Textarea(attrs={"rows": 6, "class": "sql", "spellcheck": "false"})}
        labels = {"webhook_enabled": "Post hosts that start failing to the failing-policies webhook"}

    def __init__(self, *args: object, user: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        writable = permissions.writable_team_ids(user, permissions.Kind.POLICY)
        teams = Team.objects.all() if writable is None else Team.objects.filter(pk__in=writable)
        self.fields["team"].queryset = teams
        if writable is not None:
            self.fields["team"].required = True
            self.fields["team"].empty_label = None
        if self.instance.pk:
            self.fields["team"].disabled = True  # moving a policy between teams is a new policy

    def clean_query(self) -> str:
        sql = self.cleaned_data["query"]
        try:
            validate_read_only(sql)
        except SQLError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return sql

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("policy name cannot be empty")
        return name


def _count_link(policy: Policy, response: str, count: int) -> str:
    return link(f"/hosts/?policy_id={policy.pk}&policy_response={response}", count)


def _visible(request: HttpRequest):  # noqa: ANN202 - a Policy queryset
    queryset = Policy.objects.select_related("team")
    teams = permissions.visible_team_ids(request.user)
    if teams is not None:
        queryset = queryset.filter(team__isnull=True) | queryset.filter(team_id__in=teams)
    return queryset


@login_required
def policy_list(request: HttpRequest) -> HttpResponse:
    queryset = _visible(request).order_by("name")
    if request.GET.get("team_id", "").isdigit():
        queryset = queryset.filter(team_id=int(request.GET["team_id"]))
    rows, page = paginate(request, queryset, fetch=lambda page: counted_for(request.user, page))
    table = Table(
        columns=[
            Column("Name", lambda p: link(reverse("ui-policy", args=[p.pk]), p.name)),
            Column("Team", lambda p: p.team.name if p.team else "All teams"),
            Column("Platform", lambda p: p.platform or "All"),
            Column("Critical", lambda p: badge("critical", "bad") if p.critical else ""),
            Column("Passing", lambda p: _count_link(p, "passing", p.passing_host_count), numeric=True),
            Column("Failing", lambda p: _count_link(p, "failing", p.failing_host_count), numeric=True),
        ],
        rows=rows,
        empty="No policies yet. A policy is a query that passes on a host when it returns rows.",
    )
    add_url = reverse("ui-policy-new") if _may_add(request) else None
    context = {"title": "Policies", "table": table, "page": page, "add_url": add_url, "add_label": "Add policy"}
    return render_list(request, "generic/object_list.html", context)


@login_required
def policy_edit(request: HttpRequest, policy_id: int | None = None) -> HttpResponse:
    policy = Policy() if policy_id is None else _visible(request).filter(pk=policy_id).first()
    if policy is None:
        raise Http404("no such policy")
    if policy.pk is None and not _may_add(request):
        raise PermissionDenied
    # Observers read a policy (its SQL and resolution) rather than following a link to a 404.
    read_only = policy.pk is not None and not permissions.can(request.user, "write", "policy", policy.team_id)
    form = PolicyForm(None if read_only else request.POST or None, instance=policy, user=request.user)
    if read_only:
        for field in form.fields.values():
            field.disabled = True
    if request.method == "POST" and not read_only and form.is_valid():
        creating = policy.pk is None
        if creating:
            form.instance.author = request.user
        if not permissions.can_write_team(request.user, form.cleaned_data.get("team") and form.cleaned_data["team"].pk):
            form.add_error("team", "you may not add policies there")
        else:
            try:
                with transaction.atomic():
                    saved = form.save()
                    action = "created_policy" if creating else "edited_policy"
                    record(request.user, action, {"policy_id": saved.pk, "policy_name": saved.name}, team=saved.team)
                return redirect("ui-policies")
            except IntegrityError:
                form.add_error("name", "a policy with this name already exists in this team")
    title = "New policy" if policy.pk is None else f"Policy: {policy.name}"
    context = {
        "title": title,
        "form": form,
        "cancel_url": reverse("ui-policies"),
        "read_only": read_only,
        "read_only_help": "You can read this policy; changing it needs a maintainer or admin role.",
    }
    return render(request, "generic/object_edit.html", context)


def _may_add(request: HttpRequest) -> bool:
    """Somewhere to add a policy: globally or on one of the user's teams."""
    writable = permissions.writable_team_ids(request.user, permissions.Kind.POLICY)
    return writable is None or bool(writable)


@login_required
def policy_delete(request: HttpRequest, policy_id: int) -> HttpResponse:
    policy = _visible(request).filter(pk=policy_id).first()
    if policy is None or not permissions.can_write_team(request.user, policy.team_id):
        raise Http404("no such policy")
    if request.method == "POST" and request.POST.get("confirm"):
        with transaction.atomic():
            record(
                request.user, "deleted_policy", {"policy_id": policy.pk, "policy_name": policy.name}, team=policy.team
            )
            policy.delete()
        return redirect("ui-policies")
    context = {
        "title": f"Delete policy {policy.name}?",
        "message": f"{policy.memberships.count():,} hosts stop running it, and their pass/fail results are removed.",
        "cancel_url": reverse("ui-policy", args=[policy.pk]),
    }
    return render(request, "generic/object_delete.html", context)
