"""The library pages (saved scripts, software installers): the team picker that chooses whose items a page
shows (`?team_id=`), what the user may do there, and the upload that adds to that team's library.

It lives here, beside Team and the permission layer, because several apps' pages share it and
accounts is the lowest app they all build on. Permissions are the REST API's (accounts.permissions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts import permissions
from accounts.models import Team
from accounts.permissions import Kind
from fleetsite.api.errors import FleetAPIError

Choices = list[tuple[int | None, str]]
# Stores an upload on a team: (user, team_id, the form's cleaned_data) -> the new item's name.
Saver = Callable[[Any, "int | None", dict[str, Any]], str]


def team_choices(user: Any) -> Choices:
    """Teams the user may see: (None, "No team") for global roles, then their teams by name."""
    visible = permissions.visible_team_ids(user)
    teams = Team.objects.order_by("name").values_list("pk", "name")
    if visible is not None:
        teams = teams.filter(pk__in=visible)
    return ([(None, "No team")] if visible is None else []) + list(teams)


def selected_team(request: HttpRequest) -> tuple[int | None, Choices]:
    """The `team_id` of the query string (0: "No team"), else the first team the user sees; 404 for others."""
    choices = team_choices(request.user)
    raw = request.GET.get("team_id", "")
    if raw == "":
        if not choices:
            raise Http404
        return choices[0][0], choices
    if not raw.isdigit():
        raise Http404
    team_id = int(raw) or None
    if team_id not in {pk for pk, _ in choices}:
        raise Http404
    return team_id, choices


def team_query(team_id: int | None) -> str:
    """The query string that brings a library page back to this team."""
    return f"?team_id={team_id or 0}"


def require(user: Any, kind: Kind, action: str, team_id: int | None) -> None:
    """404 when the user cannot see the team's objects of `kind` (existence must not leak), 403 without write."""
    if not permissions.can(user, "read", kind, team_id):
        raise Http404
    if action == "write" and not permissions.can(user, "write", kind, team_id):
        raise PermissionDenied


@dataclass(frozen=True)
class TeamLibrary:
    """The team a library page shows, the picker's choices, and whether the user may change the library."""

    team_id: int | None
    choices: Choices
    can_write: bool

    def upload(
        self, request: HttpRequest, form_class: type[forms.Form], field: str, save: Saver, url_name: str
    ) -> tuple[forms.Form, HttpResponse | None]:
        """The page's upload form: empty, or on a POST (403 for readers) bound and, when valid, stored with
        `save(user, team_id, cleaned_data)` (a service call that returns the new item's name). Stored, the
        answer reloads the page `url_name` on this team, saying so; else it is None and the form keeps its
        errors, Fleet's refusal on `field`."""
        if request.method != "POST":
            return form_class(), None
        if not self.can_write:
            raise PermissionDenied
        form = form_class(request.POST, request.FILES)
        if not form.is_valid():
            return form, None
        try:
            name = save(request.user, self.team_id, form.cleaned_data)
        except FleetAPIError as exc:
            form.add_error(field, str(exc.reason))
            return form, None
        messages.success(request, f"{name} was added.")
        return form, redirect(reverse(url_name) + team_query(self.team_id))

    def context(self) -> dict[str, Any]:
        """What the picker template (generic/_team_picker.html) and the upload form need."""
        return {"team_id": self.team_id, "team_choices": self.choices, "can_write": self.can_write}


def team_library(request: HttpRequest, kind: Kind) -> TeamLibrary:
    """The selected team, once the user may read its objects of `kind` (else 404)."""
    team_id, choices = selected_team(request)
    require(request.user, kind, "read", team_id)
    return TeamLibrary(team_id, choices, permissions.can(request.user, "write", kind, team_id))
