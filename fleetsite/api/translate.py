"""`POST /translate`: names to ids for scripts and fleetctl (Fleet's server/service/translator.go).

Each payload is `{"type": "user"|"label"|"team"|"host", "payload": {"identifier": …}}` and comes
back with `payload.id` filled in. Only what the caller may see is found; the rest is 404, so a
name on another team does not leak.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions
from accounts.models import Team, User
from fleetsite.api.errors import bad_request, forbidden, not_found
from fleetsite.api.schema import listing
from fleetsite.api.views import FleetAPIView
from fleetsite.lib.tokens import digest


class IdentifierSerializer(serializers.Serializer):
    identifier = serializers.CharField(max_length=255, allow_blank=True)


class PayloadSerializer(serializers.Serializer):
    type = serializers.CharField(max_length=32)
    payload = IdentifierSerializer()


class TranslateSerializer(serializers.Serializer):
    list = serializers.ListField(child=PayloadSerializer(), required=False, default=list, max_length=1000)


def _user_id(user: User, email: str) -> int:
    own = email.lower() == user.email.lower()
    if not own and not permissions.can(user, permissions.Action.READ, permissions.Kind.USER):
        raise forbidden()
    found = User.objects.filter(email__iexact=email).values_list("id", flat=True).first()
    if found is None:
        raise not_found(f"User {email} was not found in the datastore")
    return found


def _label_id(user: User, name: str) -> int:
    from queries.labels import visible_labels  # the queries app owns label visibility

    found = visible_labels(user).filter(name=name).values_list("id", flat=True).first()
    if found is None:
        raise not_found(f"Label {name} was not found in the datastore")
    return found


def _team_id(user: User, name: str) -> int:
    found = permissions.scope_to_teams(Team.objects.filter(name=name), user, field="id").values_list("id", flat=True)
    team_id = found.first()
    if team_id is None:
        raise not_found(f"Team {name} was not found in the datastore")
    return team_id


def _host_id(user: User, identifier: str) -> int:
    from hosts.models import Host

    match = (
        Q(hostname=identifier)
        | Q(uuid=identifier)
        | Q(osquery_host_id=identifier)
        | Q(hardware_serial=identifier)
        | Q(node_key_digest=digest(identifier))
    )
    hosts = permissions.scope_to_teams(Host.objects.filter(match), user)
    found = hosts.order_by("id").values_list("id", flat=True).first()
    if found is None:
        raise not_found(f"Host {identifier} was not found in the datastore")
    return found


TRANSLATORS: dict[str, Callable[[User, str], int]] = {
    "user": _user_id,
    "label": _label_id,
    "team": _team_id,
    "fleet": _team_id,  # Fleet 4.8's name for a team
    "host": _host_id,
}


class TranslateView(FleetAPIView):
    """Names, e-mails and host identifiers to ids, in the order given."""

    @extend_schema(summary="Translate names to ids", request=TranslateSerializer,
                   responses={200: listing("TranslateResult", "list")})  # fmt: skip
    def post(self, request: Request) -> Response:
        payloads = self.validated(TranslateSerializer, request)["list"]
        if not payloads:
            raise bad_request("payloads must not be empty")
        out: list[dict[str, Any]] = []
        for item in payloads:
            translate = TRANSLATORS.get(item["type"])
            if translate is None:
                raise bad_request(f"Type {item['type']} is unknown. ")
            identifier = item["payload"]["identifier"]
            out.append(
                {"type": item["type"], "payload": {"identifier": identifier, "id": translate(request.user, identifier)}}
            )
        return Response({"list": out})
