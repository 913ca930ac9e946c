"""Policies REST API (fleet-protocol §4.7): global `/policies` (v1 `/global/policies`), team `/teams/{id}/policies`."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions
from accounts.api.views import get_team
from accounts.models import Team
from activities.record import record
from fleetsite.api.errors import FleetAPIError, conflict, not_found
from fleetsite.api.fields import ObjectIdField
from fleetsite.api.schema import envelope, single
from fleetsite.api.views import FleetAPIView
from hosts.api.serializers import rfc3339
from queries.api.live import checked_sql
from queries.models import Policy, PolicyMembership
from queries.policies import counted_for
from queries.saved import readable_queries
from scripts.models import Script
from software_installers.service import find_installer


def policy_json(policy: Policy) -> dict[str, Any]:
    author = policy.author
    body = {
        "id": policy.pk,
        "name": policy.name,
        "query": policy.query,
        "description": policy.description,
        "resolution": policy.resolution,
        "platform": policy.platform,
        "critical": policy.critical,
        "author_id": policy.author_id,
        "author_name": author.name if author else "",
        "author_email": author.email if author else "",
        "team_id": policy.team_id,
        "passing_host_count": policy.passing_host_count,
        "failing_host_count": policy.failing_host_count,
        "host_count_updated_at": rfc3339(policy.host_count_updated_at),
        "calendar_events_enabled": policy.calendar_events_enabled,
        "webhook_enabled": policy.webhook_enabled,
        "type": "dynamic",
        "created_at": rfc3339(policy.created_at),
        "updated_at": rfc3339(policy.updated_at),
    }
    # Fleet omits the automations a policy does not have.
    if policy.script_id is not None:
        body["run_script"] = {"id": policy.script_id, "name": policy.script.name}
    installer = policy.software_installer
    if installer is not None:
        body["install_software"] = {"software_title_id": installer.title_id, "name": installer.name}
    return body


_PLATFORMS = {"darwin", "windows", "linux", "chrome"}


class PolicySerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    query = serializers.CharField(required=False, allow_blank=True, max_length=100_000)
    query_id = ObjectIdField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    resolution = serializers.CharField(required=False, allow_blank=True)
    platform = serializers.CharField(required=False, allow_blank=True, max_length=255)
    critical = serializers.BooleanField(required=False)
    calendar_events_enabled = serializers.BooleanField(required=False)
    webhook_enabled = serializers.BooleanField(required=False)
    script_id = ObjectIdField(required=False, allow_null=True)
    software_title_id = ObjectIdField(required=False, allow_null=True)

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("policy name cannot be empty")
        return value.strip()

    def validate_platform(self, value: str) -> str:
        parts = [part.strip() for part in value.split(",") if part.strip()]
        unknown = set(parts) - _PLATFORMS
        if unknown:
            raise serializers.ValidationError(f"unknown platform(s): {', '.join(sorted(unknown))}")
        return ",".join(parts)


def _forbid_unless(allowed: bool) -> None:
    if not allowed:
        raise FleetAPIError(403, "Permission Denied", "forbidden")


def _automations(policy: Policy, data: dict[str, Any]) -> None:
    """`script_id` / `software_title_id`: team policies only, and the script or package must be the team's."""
    for key in ("script_id", "software_title_id"):
        if data.get(key) is not None and policy.team_id is None:
            raise FleetAPIError(422, "Validation Failed", f"{key} can only be set on team policies", name=key)
    if "script_id" in data:
        script = None
        if data["script_id"] is not None:
            script = Script.objects.filter(pk=data["script_id"], team_key=policy.team_id or 0).first()
            if script is None:
                message = f"Script {data['script_id']} does not exist on this policy's team."
                raise FleetAPIError(400, "Bad request", message, name="script_id")
        policy.script = script
    if "software_title_id" in data:
        installer = None
        if data["software_title_id"] is not None:
            installer = find_installer(data["software_title_id"], policy.team_id)
            if installer is None:
                message = f"Software title {data['software_title_id']} has no package on this policy's team."
                raise FleetAPIError(400, "Bad request", message, name="software_title_id")
        policy.software_installer = installer


def _apply(policy: Policy, data: dict[str, Any], user: Any, creating: bool) -> Policy:
    if data.get("query_id"):
        source = readable_queries(user).filter(pk=data["query_id"]).first()
        if source is None:
            raise not_found(f"Query {data['query_id']} was not found in the datastore")
        data["query"] = source.query
    if creating and not data.get("query", "").strip():
        raise FleetAPIError(422, "Validation Failed", "policy query cannot be empty", name="query")
    if "query" in data:
        data["query"] = checked_sql(data["query"])
    _automations(policy, data)
    for field in ("name", "query", "description", "resolution", "platform", "critical", "calendar_events_enabled",
                  "webhook_enabled"):  # fmt: skip
        if field in data:
            setattr(policy, field, data[field])
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError as exc:
        raise conflict(f"a policy named {policy.name!r} already exists") from exc
    activity = "created_policy" if creating else "edited_policy"
    record(user, activity, {"policy_id": policy.pk, "policy_name": policy.name}, team=policy.team)
    return policy


class PolicyScopeMixin:
    """Global routes have no team id; team routes check the user may see the team."""

    def team_of(self, request: Request, team_id: int | None) -> Team | None:
        return None if team_id is None else get_team(request, team_id)

    def policies(self, team: Team | None) -> QuerySet:
        queryset = Policy.objects.select_related("author", "script", "software_installer__title")
        return queryset.filter(team__isnull=True) if team is None else queryset.filter(team=team)

    def get_policy(self, request: Request, team: Team | None, policy_id: int) -> Policy:
        policy = self.policies(team).filter(pk=policy_id).first()
        if policy is None:
            raise not_found(f"Policy {policy_id} was not found in the datastore")
        return policy


POLICY_BODY = single("PolicyDetail", "policy")


class PolicyListView(PolicyScopeMixin, FleetAPIView):
    @extend_schema(
        summary="Policies (a team's also lists the global ones it inherits)",
        responses={200: envelope("PolicyList", policies=serializers.ListField(child=serializers.DictField()))},
    )
    def get(self, request: Request, team_id: int | None = None) -> Response:
        team = self.team_of(request, team_id)
        counted = partial(counted_for, request.user)
        body: dict[str, Any] = {"policies": [policy_json(policy) for policy in counted(self.policies(team))]}
        if team is not None:
            body["inherited_policies"] = [policy_json(policy) for policy in counted(self.policies(None))]
        return Response(body)

    @extend_schema(summary="Create a policy", request=PolicySerializer, responses={200: POLICY_BODY})
    def post(self, request: Request, team_id: int | None = None) -> Response:
        team = self.team_of(request, team_id)
        _forbid_unless(permissions.can_write_team(request.user, team.pk if team else None))
        serializer = PolicySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        policy = _apply(Policy(team=team, author=request.user), dict(serializer.validated_data), request.user, True)
        return Response({"policy": policy_json(policy)})


class PolicyDetailView(PolicyScopeMixin, FleetAPIView):
    @extend_schema(summary="Get a policy", responses={200: POLICY_BODY})
    def get(self, request: Request, policy_id: int, team_id: int | None = None) -> Response:
        policy = self.get_policy(request, self.team_of(request, team_id), policy_id)
        return Response({"policy": policy_json(counted_for(request.user, [policy])[0])})

    @extend_schema(summary="Change a policy", request=PolicySerializer(partial=True), responses={200: POLICY_BODY})
    def patch(self, request: Request, policy_id: int, team_id: int | None = None) -> Response:
        team = self.team_of(request, team_id)
        _forbid_unless(permissions.can_write_team(request.user, team.pk if team else None))
        policy = self.get_policy(request, team, policy_id)
        serializer = PolicySerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        return Response({"policy": policy_json(_apply(policy, dict(serializer.validated_data), request.user, False))})


class IdsSerializer(serializers.Serializer):
    ids = serializers.ListField(child=ObjectIdField(), allow_empty=False)


class PolicyDeleteView(PolicyScopeMixin, FleetAPIView):
    @extend_schema(
        summary="Delete policies by id",
        request=IdsSerializer,
        responses={200: envelope("DeletedCount", deleted=serializers.IntegerField())},
    )
    def post(self, request: Request, team_id: int | None = None) -> Response:
        team = self.team_of(request, team_id)
        _forbid_unless(permissions.can_write_team(request.user, team.pk if team else None))
        serializer = IdsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        doomed = self.policies(team).filter(pk__in=serializer.validated_data["ids"])
        names = list(doomed.values_list("name", flat=True))
        deleted, _ = doomed.delete()
        if names:
            record(request.user, "deleted_multiple_policies", {"policy_names": names}, team=team)
        return Response({"deleted": len(names)})


class PolicyCountView(PolicyScopeMixin, FleetAPIView):
    @extend_schema(summary="Count policies", responses={200: envelope("PolicyCount", count=serializers.IntegerField())})
    def get(self, request: Request, team_id: int | None = None) -> Response:
        return Response({"count": self.policies(self.team_of(request, team_id)).count()})


class AutomationResetSerializer(serializers.Serializer):
    team_ids = serializers.ListField(child=ObjectIdField(), required=False, default=list, max_length=10_000)
    policy_ids = serializers.ListField(child=ObjectIdField(), required=False, default=list, max_length=100_000)


class AutomationResetView(FleetAPIView):
    """`POST /automations/reset`: hosts failing these policies count as newly failing for the next automation run.

    Fleet's request names teams (every policy of each) and policies; each needs the right to edit
    policies there. Here the failing-policy webhook reports such hosts again on its next run.
    """

    @extend_schema(
        summary="Reset policy automations", request=AutomationResetSerializer, responses={200: envelope("Empty")}
    )
    def post(self, request: Request) -> Response:
        data = self.validated(AutomationResetSerializer, request)
        teams = list(dict.fromkeys(data["team_ids"]))
        for team_id in teams:
            get_team(request, team_id)  # 404 for a team the user cannot see
            _forbid_unless(permissions.can_write_team(request.user, team_id))
        policy_ids = list(dict.fromkeys(data["policy_ids"]))
        found = {pk: team_id for pk, team_id in Policy.objects.filter(pk__in=policy_ids).values_list("pk", "team_id")}
        for policy_id in policy_ids:
            # Global policies are everyone's to see; a team's only its users'.
            team_id = found.get(policy_id, 0)
            if team_id == 0 or (team_id is not None and not permissions.can_read_team(request.user, team_id)):
                raise not_found(f"Policy {policy_id} was not found in the datastore")
            _forbid_unless(permissions.can_write_team(request.user, team_id))
        chosen = Policy.objects.filter(Q(pk__in=policy_ids) | Q(team_id__in=teams))
        with transaction.atomic():
            PolicyMembership.objects.filter(policy__in=chosen, passes=False).update(webhook_pending=True)
        return Response({})
