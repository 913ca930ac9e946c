"""Teams pages: list, create, rename, delete, members, secrets and agent-option overrides."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from accounts import permissions, services
from accounts.choices import Role, role_name
from accounts.forms import MemberForm, SearchForm, TeamForm
from accounts.models import Team
from accounts.permissions import Action, Kind
from fleetsite import appconfig
from fleetsite.lib import agent_options_check
from fleetsite.ui import Column, Table, field_errors_from, link, login_required, paginate, render_list, require
from fleetsite.views.secrets import handle_secret_post


def _visible_team(request: HttpRequest, pk: int) -> Team:
    team = Team.objects.filter(pk=pk).first()
    if team is None or not permissions.can_read_team(request.user, team.pk):
        raise Http404
    return team


@login_required
def team_list(request: HttpRequest) -> HttpResponse:
    teams = permissions.scope_to_teams(Team.objects.all(), request.user, "id").annotate(
        n_hosts=Count("hosts", distinct=True), n_users=Count("memberships", distinct=True)
    )
    query = request.GET.get("query", "").strip()
    if query:
        teams = teams.filter(name__icontains=query)
    rows, page = paginate(request, teams.order_by("name"))
    table = Table(
        columns=[
            Column("Team", lambda t: link(reverse("ui-team", args=[t.pk]), t.name)),
            Column("Description", lambda t: t.description),
            Column("Hosts", lambda t: link(f"/hosts/?team_id={t.pk}", t.n_hosts), numeric=True),
            Column("Users", lambda t: t.n_users, numeric=True),
        ],
        rows=rows,
        empty="No teams yet. Teams group hosts with their own secrets, agent options and members.",
    )
    context = {"title": "Teams", "table": table, "page": page, "filter_form": SearchForm(request.GET)}
    if permissions.is_global_admin(request.user):
        context.update(add_url=reverse("ui-team-create"), add_label="Create team")
    return render_list(request, "accounts/team_list.html", context)


@login_required
def team_create(request: HttpRequest) -> HttpResponse:
    if not permissions.is_global_admin(request.user):
        raise PermissionDenied
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = services.create_team(request.user, form.cleaned_data["name"], form.cleaned_data["description"])
        except services.InvalidInput as exc:
            field_errors_from(form, exc)
        else:
            messages.success(request, f"Team {team.name} is created. Add members and an enroll secret next.")
            return redirect("ui-team", pk=team.pk)
    return render(
        request,
        "generic/object_edit.html",
        {"title": "Create a team", "form": form, "submit_label": "Create team", "cancel_url": reverse("ui-teams")},
    )


@login_required
def team_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One team: members, enroll secrets and agent options, each changed in place."""
    team = _visible_team(request, pk)
    can_admin = permissions.can_admin_team(request.user, team.pk)
    can_secrets = permissions.can_manage_team_secrets(request.user, team.pk)
    member_form = MemberForm(team=team, actor=request.user, prefix="member")
    options_text = agent_options_check.to_yaml(team.agent_options) if team.agent_options else ""
    options_error = None
    if request.method == "POST":
        action = request.POST.get("action", "")
        if request.POST.get("secret_action"):
            require(request, Action.WRITE, Kind.SECRET, team.pk)
            back = reverse("ui-team", args=[team.pk]) + "#secrets"
            confirm = handle_secret_post(request, team, back)
            if isinstance(confirm, HttpResponse):
                return confirm
            return redirect(reverse("ui-team", args=[team.pk]) + "#secrets")
        require(request, Action.WRITE, Kind.TEAM, team.pk)
        if action == "add_member":
            member_form = MemberForm(request.POST, team=team, actor=request.user, prefix="member")
            if member_form.is_valid():
                user, role = member_form.cleaned_data["user"], member_form.cleaned_data["role"]
                try:
                    services.set_team_members(request.user, team, [(user.pk, role)])
                except services.InvalidInput as exc:
                    field_errors_from(member_form, exc)
                else:
                    messages.success(request, f"{user.email} is now {role_name(role)} on {team.name}.")
                    return redirect(reverse("ui-team", args=[team.pk]) + "#members")
        elif action in ("change_role", "remove_member"):
            try:
                user_id = int(request.POST.get("user_id", ""))
                if action == "change_role":
                    services.set_team_members(request.user, team, [(user_id, request.POST.get("role", ""))])
                else:
                    services.remove_team_members(request.user, team, [user_id])
            except (ValueError, services.InvalidInput) as exc:
                messages.error(request, getattr(exc, "reason", "Choose a user."))
            else:
                messages.success(request, "Members are saved.")
            return redirect(reverse("ui-team", args=[team.pk]) + "#members")
        elif action == "agent_options":
            options_text = request.POST.get("agent_options", "")
            try:
                options = agent_options_check.parse(options_text)
                appconfig.set_team_agent_options(request.user, team, options)
            except agent_options_check.AgentOptionsError as exc:
                options_error = str(exc)
            except services.InvalidInput as exc:
                options_error = exc.reason
            else:
                messages.success(request, "Agent options saved; hosts pick them up at their next config check-in.")
                return redirect(reverse("ui-team", args=[team.pk]) + "#agent-options")
    members = team.memberships.select_related("user").order_by("user__email")
    context = {
        "title": team.name,
        "team": team,
        "members": members,
        "member_form": member_form,
        "can_admin": can_admin,
        "can_secrets": can_secrets,
        "secrets": team.secrets.all() if can_secrets else [],
        "host_count": team.hosts.count(),
        "options_text": options_text,
        "options_error": options_error,
        "roles": Role.choices,
    }
    return render(request, "accounts/team_detail.html", context, status=422 if options_error else 200)


@login_required
def team_edit(request: HttpRequest, pk: int) -> HttpResponse:
    team = _visible_team(request, pk)
    require(request, Action.WRITE, Kind.TEAM, team.pk)
    form = TeamForm(request.POST or None, initial={"name": team.name, "description": team.description})
    if request.method == "POST" and form.is_valid():
        try:
            services.update_team(request.user, team, form.cleaned_data["name"], form.cleaned_data["description"])
        except services.InvalidInput as exc:
            field_errors_from(form, exc)
        else:
            messages.success(request, "Team saved.")
            return redirect("ui-team", pk=team.pk)
    return render(
        request,
        "generic/object_edit.html",
        {"title": f"Edit {team.name}", "form": form, "cancel_url": reverse("ui-team", args=[team.pk])},
    )


@login_required
def team_delete(request: HttpRequest, pk: int) -> HttpResponse:
    team = _visible_team(request, pk)
    if not permissions.is_global_admin(request.user):
        raise PermissionDenied
    if request.method == "POST":
        moved = services.delete_team(request.user, team)
        messages.success(request, f"Team {team.name} is deleted; {moved} hosts now have no team.")
        return redirect("ui-teams")
    hosts = team.hosts.count()
    return render(
        request,
        "generic/object_delete.html",
        {
            "title": f"Delete team {team.name}",
            "message": f"Delete the team {team.name}?",
            "consequences": [
                f"Its {hosts} hosts stay enrolled and move to “No team”.",
                "Its enroll secrets stop working, and its members lose access through this team.",
            ],
            "cancel_url": reverse("ui-team", args=[team.pk]),
        },
    )
