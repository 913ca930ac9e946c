"""A readable REST API reference rendered from the drf-spectacular schema, with no external assets.

The Redoc page at /api/docs/ loads its script from a CDN; this one works offline and behind
strict firewalls, which is where Fleet servers often live.
"""

from __future__ import annotations

import functools
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.generators import SchemaGenerator

from fleetsite.ui import login_required

METHODS = ("get", "post", "patch", "put", "delete")


@functools.cache
def _operations() -> list[dict[str, Any]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    out = []
    for path, item in schema.get("paths", {}).items():
        if not path.startswith("/api/latest/"):
            continue  # the same routes answer under /api/v1/ and /api/2022-04/
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            params = [
                {"name": p["name"], "in": p["in"], "description": p.get("description", ""),
                 "type": (p.get("schema") or {}).get("type", "")}
                for p in operation.get("parameters", [])
            ]  # fmt: skip
            body = (operation.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema")
            out.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary") or operation.get("description", "").split("\n")[0],
                    "params": params,
                    "body": _body_fields(schema, body),
                    "tag": path.removeprefix("/api/latest/fleet/").split("/")[0],
                }
            )
    return sorted(out, key=lambda op: (op["tag"], op["path"], METHODS.index(op["method"].lower())))


def _body_fields(schema: dict[str, Any], body: dict[str, Any] | None) -> list[dict[str, str]]:
    if not body:
        return []
    if "$ref" in body:
        body = schema["components"]["schemas"].get(body["$ref"].rsplit("/", 1)[-1], {})
    required = set(body.get("required", []))
    return [
        {"name": name, "type": spec.get("type", "object"), "required": name in required}
        for name, spec in (body.get("properties") or {}).items()
    ]


@login_required
def api_reference(request: HttpRequest) -> HttpResponse:
    operations = _operations()
    groups: dict[str, list[dict[str, Any]]] = {}
    for operation in operations:
        groups.setdefault(operation["tag"], []).append(operation)
    return render(request, "fleetsite/api_reference.html", {"title": "REST API", "groups": groups})
