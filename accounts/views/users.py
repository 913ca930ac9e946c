"""Users and invites pages (global admins only)."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from accounts import services, tokens
from accounts.forms import InviteForm, SearchForm, UserCreateForm, UserEditForm
from accounts.models import Invite, User
from accounts.permissions import Action, Kind
from fleetsite.ui import Column, Table, badge, field_errors_from, link, login_required, paginate, render_list, require


def _roles_text(user: User) -> str:
    if user.global_role:
        return f"{user.get_global_role_display()} (global)"
    roles = [f"{m.team.name}: {m.get_role_display()}" for m in user.memberships.all()]
    return ", ".join(roles) or "no role"


@login_required
def user_list(request: HttpRequest) -> HttpResponse:
    require(request, Action.READ, Kind.USER)
    users = User.objects.prefetch_related("memberships__team").order_by("email")
    query = request.GET.get("query", "").strip()
    if query:
        users = users.filter(Q(email__icontains=query) | Q(name__icontains=query))
    rows, page = paginate(request, users)
    table = Table(
        columns=[
            Column("Name", lambda u: link(reverse("ui-user-edit", args=[u.pk]), u.name or u.email)),
            Column("Email", lambda u: u.email),
            Column("Role", _roles_text),
            Column("Kind", lambda u: badge("API only") if u.api_only else ("" if u.is_active else badge("disabled"))),
        ],
        rows=rows,
        empty="No users match.",
    )
    context = {
        "title": "Users",
        "table": table,
        "page": page,
        "filter_form": SearchForm(request.GET),
        "invites": Invite.objects.select_related("invited_by"),
        "add_url": reverse("ui-invite-create"),
        "add_label": "Invite user",
    }
    return render_list(request, "accounts/user_list.html", context)


@login_required
def invite_create(request: HttpRequest) -> HttpResponse:
    require(request, Action.WRITE, Kind.INVITE)
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            invite, token = services.create_invite(
                request.user, data["email"], data["name"], data["global_role"], form.team_roles(),
                base_url=request.build_absolute_uri("/"),
            )  # fmt: skip
        except services.InvalidInput as exc:
            field_errors_from(form, exc)
        else:
            link_url = request.build_absolute_uri(f"/invites/{token}/")
            messages.success(request, f"Invite sent to {invite.email}. The link is also here, once: {link_url}")
            return redirect("ui-users")
    return render(
        request,
        "generic/object_edit.html",
        {"title": "Invite a user", "form": form, "submit_label": "Send invite", "cancel_url": reverse("ui-users")},
    )


@login_required
def invite_delete(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, Action.WRITE, Kind.INVITE)
    invite = get_object_or_404(Invite, pk=pk)
    if request.method == "POST":
        services.delete_invite(request.user, invite)
        messages.success(request, f"The invite for {invite.email} is withdrawn.")
        return redirect("ui-users")
    return render(
        request,
        "generic/object_delete.html",
        {"title": "Withdraw invite", "message": f"Withdraw the invite for {invite.email}? The link stops working.",
         "cancel_url": reverse("ui-users"), "confirm_label": "Withdraw"},
    )  # fmt: skip


@login_required
def user_create(request: HttpRequest) -> HttpResponse:
    """Create a user directly, e.g. an API-only account for a script."""
    require(request, Action.WRITE, Kind.USER)
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.create_user(
                request.user, data["email"], data["password"], name=data["name"], global_role=data["global_role"],
                teams=form.team_roles(), api_only=data["api_only"],
            )  # fmt: skip
        except services.InvalidInput as exc:
            field_errors_from(form, exc)
        else:
            messages.success(request, f"{user.email} can now log in.")
            return redirect("ui-users")
    return render(
        request,
        "generic/object_edit.html",
        {"title": "Create a user", "form": form, "submit_label": "Create user", "cancel_url": reverse("ui-users")},
    )


@login_required
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, Action.WRITE, Kind.USER)
    user = get_object_or_404(User, pk=pk)
    initial = {
        "email": user.email, "name": user.name, "api_only": user.api_only, "is_active": user.is_active,
        "force_password_reset": user.force_password_reset,
    }  # fmt: skip
    form = UserEditForm(request.POST or None, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        changes = {
            "email": data["email"], "name": data["name"], "api_only": data["api_only"],
            "is_active": data["is_active"], "global_role": data["global_role"] or None, "teams": form.team_roles(),
        }  # fmt: skip
        try:
            with transaction.atomic():
                services.update_user(request.user, user, changes)
                if data["force_password_reset"] != user.force_password_reset:
                    services.require_password_reset(user, data["force_password_reset"])
        except services.InvalidInput as exc:
            field_errors_from(form, exc)
        else:
            if not data["is_active"]:
                tokens.revoke_sessions(user)
            messages.success(request, f"{user.email} is saved.")
            return redirect("ui-users")
    return render(
        request,
        "accounts/user_edit.html",
        {"title": f"Edit {user.email}", "form": form, "edited": user, "cancel_url": reverse("ui-users")},
    )


@login_required
def user_delete(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, Action.WRITE, Kind.USER)
    user = get_object_or_404(User, pk=pk)
    error = None
    if request.method == "POST":
        try:
            services.delete_user(request.user, user)
        except services.InvalidInput as exc:
            error = exc.reason
        else:
            messages.success(request, f"{user.email} is deleted.")
            return redirect("ui-users")
    if error:
        messages.error(request, error)
    return render(
        request,
        "generic/object_delete.html",
        {"title": f"Delete {user.email}", "message": f"Delete the account of {user.email}?",
         "consequences": ["Their sessions and API tokens stop working.", "Their past activity stays in the feed."],
         "cancel_url": reverse("ui-user-edit", args=[user.pk])},
    )  # fmt: skip
