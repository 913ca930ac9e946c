"""The real routes plus `/bench/empty`, the baseline every figure is divided by, and `/bench/flush`."""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from fleetsite.urls import handler404, handler500  # noqa: F401
from fleetsite.urls import urlpatterns as fleetsite_urlpatterns
from hosts import seen
from queries import reports


def empty(request: HttpRequest) -> JsonResponse:
    return JsonResponse({})


@csrf_exempt  # the bench's own client; these routes exist only under bench.settings
@require_POST
def flush(request: HttpRequest) -> JsonResponse:
    """Write what check-ins left to the flusher threads now, so that its CPU falls in the window that caused it.

    In production seen times and report rows are written every 2 s; left to the thread, a phase's
    writes ran inside whichever measurement came next (often the empty view), not its own.
    """
    return JsonResponse({"seen": seen.buffer.flush(), "report_hosts": reports.pending_rows.flush()})


urlpatterns = [path("bench/empty", empty), path("bench/flush", flush), *fleetsite_urlpatterns]
