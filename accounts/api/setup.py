"""Fleet's first-run `POST /api/v1/setup`: the first admin, the organization name and the server URL.

As in Fleet, it answers only while the server has no user at all; afterwards it is a 404 (what
`fleetctl setup` reads as "already set up"). `make run` creates the first admin itself
(`manage.py ensure_admin`), so this serves servers started another way, and fleetctl users.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import services, tokens
from accounts.api.teams import invalid
from accounts.api.views import user_json
from accounts.models import User
from accounts.throttles import LoginIPThrottle
from fleetsite import appconfig
from fleetsite.api.errors import not_found, validation_failed
from fleetsite.api.views import FleetAPIView
from fleetsite.models import FleetConfig


def _text(body: Any, section: str, key: str) -> str:
    value = body.get(section) if isinstance(body, dict) else None
    value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise validation_failed(f"{section}.{key}", f"{key} is required")
    return value


class SetupView(FleetAPIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginIPThrottle]

    @extend_schema(
        summary="First-run setup: the first admin (only while the server has no user)",
        request=dict,
        responses={200: dict},
    )
    def post(self, request: Request) -> Response:
        body = request.data
        email, password = _text(body, "admin", "email"), _text(body, "admin", "password")
        name = _text(body, "admin", "name")
        org_name = _text(body, "org_info", "org_name")
        server_url = body.get("server_url") if isinstance(body, dict) else None
        with transaction.atomic():
            # The config row's lock makes two simultaneous setups take turns: the second finds a user.
            FleetConfig.objects.select_for_update().get_or_create(pk=1)
            if User.objects.exists():
                raise not_found("setup has already been completed")
            try:
                admin = services.create_user(None, email, password, name=name, global_role="admin")
                changes: dict[str, Any] = {"org_info": {"org_name": org_name}}
                if server_url:
                    changes["server_settings"] = {"server_url": server_url}
                config = appconfig.update_config(admin, changes)
            except services.InvalidInput as exc:
                raise invalid(exc) from exc
            token = tokens.issue_session(admin)
        return Response(
            {
                "admin": user_json(admin),
                "org_info": {"org_name": config.org_name, "org_logo_url": config.org_logo_url},
                "server_url": config.server_url or None,
                "token": token,
            }
        )
