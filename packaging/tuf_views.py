"""Serve the TUF repository read-only (orbit's --update-url can point at this server).

Only files under `<TUF dir>/repository/` are reachable; the keys live beside it, never inside.
Metadata must not be cached (the timestamp changes); target files never change under a name.
"""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt

from packaging.repository import Repository


@csrf_exempt
def tuf_file(request: HttpRequest, path: str) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    file = Repository.from_settings().resolve(path)
    if file is None:
        raise Http404("no such TUF file")
    metadata = file.suffix == ".json" and "/" not in path.strip("/")
    response = FileResponse(
        file.open("rb"), content_type="application/json" if metadata else "application/octet-stream"
    )
    response["Cache-Control"] = "no-cache" if metadata else "public, max-age=3600"
    return response
