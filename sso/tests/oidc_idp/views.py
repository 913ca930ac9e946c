"""Test-only: create or update a provider user and its claims (POST JSON, with the run's bearer token)."""

from __future__ import annotations

import hmac
import json

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sso.tests.oidc_idp.models import UserClaims


@csrf_exempt
@require_POST
def set_user(request: HttpRequest) -> HttpResponse:
    """`{"username", "password", "claims"}`: the account a test signs in with at the provider, and what it claims."""
    given = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not hmac.compare_digest(given, settings.OIDC_IDP_ADMIN_TOKEN):
        return JsonResponse({"error": "unauthorized"}, status=401)
    body = json.loads(request.body)
    with transaction.atomic():
        user, created = User.objects.get_or_create(username=body["username"])
        user.email = str(body["claims"].get("email", ""))
        if created or not user.check_password(body["password"]):
            user.set_password(body["password"])  # only then: a new password hash ends the user's sessions
        user.save()
        UserClaims.objects.update_or_create(user=user, defaults={"data": body["claims"]})
    return JsonResponse({"id": user.pk})
