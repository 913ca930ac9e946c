"""OpenAPI generation: every REST operation declares Fleet's error responses and its bearer auth.

Clients (and the schemathesis run in fleetsite/tests/test_schemathesis.py) rely on the schema
listing every status an operation can answer, with the body it carries. The error statuses are
the same for every operation (fleetsite/api/errors.py), so they are added here once.
"""

from __future__ import annotations

import re
from typing import Any

from django_filters import rest_framework as filters
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from fleetsite.api.aliases import SEGMENT_ALIASES
from fleetsite.api.fields import MAX_ID

# Status -> Fleet's `message` for it (fleetsite/api/errors.py).
ERROR_STATUSES: dict[int, str] = {
    400: "Bad request",
    401: "Authentication required",
    403: "Permission Denied",
    404: "Resource Not Found",
    409: "Resource Already Exists",
    422: "Validation Failed",
    429: "Too Many Requests",
}


class FleetErrorItemSerializer(serializers.Serializer):
    """One `{name, reason}` pair of Fleet's error list."""

    name = serializers.CharField()
    reason = serializers.CharField()


class FleetErrorSerializer(serializers.Serializer):
    """Fleet's REST error body: a summary and the reasons (fleet-protocol §0.4 A)."""

    message = serializers.CharField()
    errors = FleetErrorItemSerializer(many=True)


def filterset_parameters(filterset_class: Any) -> list[OpenApiParameter]:
    """A FilterSet's filters as query parameters: choices as enums, numbers as non-negative integers.

    drf-spectacular reads filters only from generic views; ours are plain APIViews.
    """
    parameters = []
    for name, filter_ in filterset_class.base_filters.items():
        schema: dict[str, Any]
        if isinstance(filter_, filters.ChoiceFilter):
            schema = {"type": "string", "enum": [str(value) for value, _ in filter_.extra["choices"]]}
        elif isinstance(filter_, filters.NumberFilter):
            schema = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
        elif isinstance(filter_, filters.BooleanFilter):
            schema = {"type": "boolean"}
        else:
            schema = {"type": "string"}
        parameters.append(OpenApiParameter(name, schema, OpenApiParameter.QUERY, description=filter_.label or ""))
    return parameters


class FleetAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, plus Fleet's error responses and list filters on every operation."""

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        filterset_class = getattr(self.view, "filterset_class", None)
        if self.method == "GET" and filterset_class is not None:
            declared = {getattr(parameter, "name", None) for parameter in parameters}
            parameters += [p for p in filterset_parameters(filterset_class) if p.name not in declared]
        return parameters

    def _get_request_body(self, direction: str = "request") -> Any:
        """Also a GET's body when the view names it in `get_body_serializer`: Fleet's `GET /queries/run`.

        drf-spectacular documents bodies of PUT, PATCH and POST only.
        """
        get_body = getattr(self.view, "get_body_serializer", None)
        if self.method != "GET" or get_body is None:
            return super()._get_request_body(direction)
        ref = self.resolve_serializer(get_body, "request").ref
        return {"content": {"application/json": {"schema": ref}}, "required": True}

    def _tokenize_path(self) -> list[str]:
        """Path words for the operationId, with each `{name}` kept as `by_name`.

        drf-spectacular drops path variables, so `/hosts` and `/hosts/{host_id}` would share one id.
        """
        path = re.sub(self.path_prefix, "", self.path, flags=re.IGNORECASE)
        path = re.sub(r"\{([\w\-]+)\}", r"by_\1", path)
        return [token for token in path.strip("/").split("/") if token]

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)  # type: ignore[arg-type]
        if direction != "response":
            return responses
        error_ref = self.resolve_serializer(FleetErrorSerializer, "response").ref
        for status, message in ERROR_STATUSES.items():
            responses.setdefault(
                str(status),
                {"description": message, "content": {"application/json": {"schema": error_ref}}},
            )
        return responses


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """`Authorization: Bearer <token>`: a session from /login or a named API token."""

    target_class = "accounts.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer"}


# --- Fleet 4.8's route aliases: documented once, under the old word. ---------------------------
_OLD_WORD = {new: old for old, new in SEGMENT_ALIASES.items()}


def _old_word_path(path: str) -> str:
    return "/".join(_OLD_WORD.get(segment, segment) for segment in path.split("/"))


def drop_route_aliases(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[tuple[Any, ...]]:
    """PREPROCESSING_HOOKS entry: leave out the `fleets`/`reports` twins of `teams`/`queries` routes.

    fleetsite/api/aliases.py mounts the same view under both words; listing both would double the
    schema and have schemathesis fuzz every such operation twice. A route whose old-word twin is
    not in the schema is kept: it is no alias.
    """
    present = {(path, method) for path, _, method, _ in endpoints}
    return [
        endpoint
        for endpoint in endpoints
        if (twin := _old_word_path(endpoint[0])) == endpoint[0] or (twin, endpoint[2]) not in present
    ]


# --- Response envelopes: Fleet wraps every object or list under a named key. ----------------
PAGE_META = {"has_next_results": serializers.BooleanField(), "has_previous_results": serializers.BooleanField()}


_envelopes: dict[str, serializers.Serializer] = {}


def envelope(name: str, **fields: serializers.Field) -> serializers.Serializer:
    """A response body with exactly these top-level keys (the objects inside stay free-form).

    One serializer per name: drf-spectacular sees two classes named alike as a conflict.
    """
    from drf_spectacular.utils import inline_serializer

    if name not in _envelopes:
        _envelopes[name] = inline_serializer(name=name, fields=fields)
    return _envelopes[name]


def single(name: str, key: str) -> serializers.Serializer:
    """`{key: {...}}`: one object."""
    return envelope(name, **{key: serializers.DictField()})


def listing(name: str, key: str, paged: bool = False) -> serializers.Serializer:
    """`{key: [...]}`, plus Fleet's paging `meta` when the list is paged."""
    fields: dict[str, serializers.Field] = {key: serializers.ListField(child=serializers.DictField())}
    if paged:
        fields["meta"] = envelope("PageMeta", **PAGE_META)
    return envelope(name, **fields)


# Fleet's empty success: `{}` with a 200.
EMPTY = envelope("Empty")
