"""Enroll secrets on the settings and team pages: reveal, copy, add, rotate, delete."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest

from accounts.models import Team
from activities import types
from activities.record import record
from enrollment import secrets
from enrollment.models import EnrollSecret


def handle_secret_post(request: HttpRequest, team: Team | None) -> bool:
    """Apply a secrets form action (`secret_action` = add | rotate | delete); True when one ran."""
    action = request.POST.get("secret_action")
    if action not in ("add", "rotate", "delete"):
        return False
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
