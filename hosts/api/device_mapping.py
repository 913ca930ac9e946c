"""`/hosts/{id}/device_mapping`: a host's user e-mails, read and set by people (Fleet's hosts.go)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import Action, Kind
from fleetsite.api.schema import envelope
from fleetsite.api.views import FleetAPIView
from hosts import device_mapping
from hosts.api.views import get_visible_host
from hosts.models import Host

DEVICE_MAPPING = envelope(
    "HostDeviceMapping",
    host_id=serializers.IntegerField(),
    device_mapping=serializers.ListField(
        child=envelope("DeviceMappingEmail", email=serializers.CharField(), source=serializers.CharField())
    ),
)


class DeviceMappingSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=device_mapping.EMAIL_MAX_LENGTH)
    source = serializers.ChoiceField(choices=list(device_mapping.API_SOURCES), default=device_mapping.CUSTOM)


def mapping_response(host: Host) -> Response:
    return Response({"host_id": host.pk, "device_mapping": device_mapping.mapping_json(host)})


class HostDeviceMappingView(FleetAPIView):
    @extend_schema(summary="A host's user e-mails", responses={200: DEVICE_MAPPING})
    def get(self, request: Request, host_id: int) -> Response:
        return mapping_response(get_visible_host(request, host_id))

    @extend_schema(
        summary="Set a host's custom (or IdP) e-mail", request=DeviceMappingSerializer, responses={200: DEVICE_MAPPING}
    )
    def put(self, request: Request, host_id: int) -> Response:
        host = get_visible_host(request, host_id)
        self.require(request, Action.WRITE, Kind.HOST, host.team_id)
        data = self.validated(DeviceMappingSerializer, request)
        if data["source"] == device_mapping.CUSTOM:
            device_mapping.set_custom(host, data["email"])
        else:
            device_mapping.set_idp(host, data["email"])
        return mapping_response(host)


class HostDeviceMappingIdPView(FleetAPIView):
    @extend_schema(summary="Forget a host's IdP e-mail", request=None, responses={204: None})
    def delete(self, request: Request, host_id: int) -> HttpResponse:
        host = get_visible_host(request, host_id)
        self.require(request, Action.WRITE, Kind.HOST, host.team_id)
        device_mapping.delete_idp(host)
        return HttpResponse(status=204)
