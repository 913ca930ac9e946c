"""Enroll secrets on the settings and team pages: reveal, copy, add, rotate, delete."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import Team
from activities import types
from activities.record import record
from enrollment import secrets
from enrollment.models import EnrollSecret


def handle_secret_post(request: HttpRequest, team: Team | None, back: str = "") -> bool | HttpResponse:
    """Apply a secrets form action (`secret_action` = add | rotate | delete); True when one ran.

    Deleting or rotating first answers a confirmation page (the response to return), since
    installers that carry the secret stop enrolling hosts; the page's form posts `confirm`.
    """
    action = request.POST.get("secret_action")
    if action not in ("add", "rotate", "delete"):
        return False
    if action in ("rotate", "delete") and not request.POST.get("confirm"):
        return _confirm_page(request, team, action, back)
    details = {"team_id": team.pk if team else None, "team_name": team.name if team else None}
    scope = EnrollSecret.objects.filter(team=team)
    try:
        with transaction.atomic():
            if action == "add":
                secrets.add(team)
                messages.success(request, "A new enroll secret is ready.")
            else:
                row = scope.filter(pk=request.POST.get("secret_id")).first()
                if row is None:
                    messages.error(request, "That secret no longer exists.")
                    return True
                remaining = [s for s in scope.values_list("secret", flat=True) if s != row.secret]
                if action == "rotate":
                    remaining.append(secrets.generate())
                    messages.success(
                        request, "Secret rotated: hosts enrolled with it stay; new installers need the new one."
                    )
                else:
                    messages.success(request, "Secret deleted: installers that carry it can no longer enroll hosts.")
                secrets.replace(team, remaining)
            record(request.user, types.EDITED_ENROLL_SECRETS, details, team=team)
    except secrets.SecretError as exc:
        messages.error(request, str(exc))
    return True


def _confirm_page(request: HttpRequest, team: Team | None, action: str, back: str) -> HttpResponse:
    """'Delete 1 enroll secret of Servers?': what will happen, to what, before it happens."""
    owner = f"the team {team.name}" if team else "no team (global)"
    verb = "Delete" if action == "delete" else "Rotate"
    effect = (
        "Installers and hosts that carry this secret can no longer enroll; hosts already enrolled stay."
        if action == "delete"
        else "A new secret replaces it: installers built with the old one can no longer enroll new hosts."
    )
    context = {
        "title": f"{verb} 1 enroll secret of {owner}?",
        "message": effect,
        "hidden": {"secret_action": action, "secret_id": request.POST.get("secret_id", "")},
        "confirm_label": f"{verb} secret",
        "cancel_url": back or request.path,
    }
    return render(request, "generic/object_delete.html", context)
