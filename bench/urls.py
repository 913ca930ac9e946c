"""The real routes plus `/bench/empty`, the baseline every figure is divided by."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from fleetsite.urls import handler404, handler500  # noqa: F401
from fleetsite.urls import urlpatterns as fleetsite_urlpatterns


def empty(request: HttpRequest) -> JsonResponse:
    return JsonResponse({})


urlpatterns = [path("bench/empty", empty), *fleetsite_urlpatterns]
