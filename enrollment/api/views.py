"""Enroll secrets REST API (fleet-protocol §4.3)."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions
from accounts.api.views import get_team
from accounts.models import Team
from activities import types
from activities.record import record
from enrollment import secrets
from enrollment.models import EnrollSecret
from fleetsite.api.errors import FleetAPIError, validation_failed
from fleetsite.api.schema import EMPTY, envelope
from fleetsite.api.views import FleetAPIView, flag
from hosts.api.serializers import rfc3339


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField(max_length=255, trim_whitespace=False)


class SecretSetSerializer(serializers.Serializer):
    secrets = SecretSerializer(many=True, allow_empty=True)


class SpecSerializer(serializers.Serializer):
    spec = SecretSetSerializer()
    dry_run = serializers.BooleanField(required=False, default=False)


def secret_json(secret: EnrollSecret, with_team: bool) -> dict:
    data = {"secret": secret.secret, "created_at": rfc3339(secret.created_at)}
    if with_team:
        data["team_id"] = secret.team_id
    return data


def _forbid_unless(allowed: bool) -> None:
    if not allowed:
        raise FleetAPIError(403, "Permission Denied", "forbidden")


def _replace(request: Request, team: Team | None, values: list[str], dry_run: bool = False) -> list[EnrollSecret]:
    """Replace a scope's secrets, answering Fleet's 422 for a set it would refuse."""
    try:
        if dry_run:
            secrets.validate_for_scope(team, values)
            return []
        with transaction.atomic():
            before = sorted(EnrollSecret.objects.filter(team=team).values_list("secret", flat=True))
            rows = secrets.replace(team, values)
            # The same set again (a scheduled gitops run) is no edit.
            if before != sorted(values):
                details = {"team_id": team.pk if team else None, "team_name": team.name if team else None}
                record(request.user, types.EDITED_ENROLL_SECRETS, details, team=team)
        return rows
    except secrets.SecretError as exc:
        raise validation_failed("secrets", str(exc)) from exc


SECRET_LIST = serializers.ListField(child=serializers.DictField())


class GlobalSecretsView(FleetAPIView):
    """`GET/POST /spec/enroll_secret`: the global secrets; POST replaces the whole set."""

    @extend_schema(
        summary="The global enroll secrets",
        responses={200: envelope("GlobalSecrets", spec=envelope("SecretSpec", secrets=SECRET_LIST))},
    )
    def get(self, request: Request) -> Response:
        _forbid_unless(permissions.can_manage_team_secrets(request.user, None) and permissions.is_global(request.user))
        rows = EnrollSecret.objects.filter(team__isnull=True)
        return Response({"spec": {"secrets": [secret_json(secret, False) for secret in rows]}})

    @extend_schema(summary="Replace the global enroll secrets", request=SpecSerializer, responses={200: EMPTY})
    def post(self, request: Request) -> Response:
        _forbid_unless(permissions.is_global(request.user) and permissions.can_write_team(request.user, None))
        serializer = SpecSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = [item["secret"] for item in serializer.validated_data["spec"]["secrets"]]
        # fleetctl apply/gitops --dry-run say it in the query string, as Fleet reads it; the body key is kept.
        dry_run = serializer.validated_data["dry_run"] or flag(request, "dry_run")
        _replace(request, None, values, dry_run)
        return Response({})


class TeamSecretsView(FleetAPIView):
    """`GET/PATCH /teams/{id}/secrets`: a team's secrets; PATCH replaces the whole set."""

    @extend_schema(summary="A team's enroll secrets", responses={200: envelope("TeamSecrets", secrets=SECRET_LIST)})
    def get(self, request: Request, team_id: int) -> Response:
        team = get_team(request, team_id)
        _forbid_unless(permissions.can_manage_team_secrets(request.user, team.pk))
        return Response({"secrets": [secret_json(secret, True) for secret in team.secrets.all()]})

    @extend_schema(
        summary="Replace a team's enroll secrets",
        request=SecretSetSerializer,
        responses={200: envelope("TeamSecrets", secrets=SECRET_LIST)},
    )
    def patch(self, request: Request, team_id: int) -> Response:
        team = get_team(request, team_id)
        _forbid_unless(permissions.can_manage_team_secrets(request.user, team.pk))
        serializer = SecretSetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rows = _replace(request, team, [item["secret"] for item in serializer.validated_data["secrets"]])
        return Response({"secrets": [secret_json(secret, True) for secret in rows]})
