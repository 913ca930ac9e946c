"""Fleet's REST error bodies (fleet-protocol §0.4 A) for DRF and for Django's own 404/500."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class FleetAPIError(exceptions.APIException):
    """An error with an explicit status, summary and reason."""

    def __init__(self, status_code: int, message: str, reason: str | None = None, name: str = "base") -> None:
        super().__init__(reason or message)
        self.status_code = status_code
        self.message = message
        self.reason = reason or message
        self.name = name


def not_found(reason: str) -> FleetAPIError:
    return FleetAPIError(404, "Resource Not Found", reason)


def forbidden(reason: str = "forbidden") -> FleetAPIError:
    return FleetAPIError(403, "Permission Denied", reason)


def bad_request(reason: str) -> FleetAPIError:
    return FleetAPIError(400, "Bad request", reason)


def conflict(reason: str) -> FleetAPIError:
    return FleetAPIError(409, "Resource Already Exists", reason)


def validation_failed(name: str, reason: str) -> FleetAPIError:
    return FleetAPIError(422, "Validation Failed", reason, name=name)


def error_body(message: str, errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"message": message, "errors": errors or []}


def _flatten(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested validation errors as Fleet's flat `{name, reason}` list."""
    if isinstance(detail, dict):
        out: list[dict[str, str]] = []
        for key, value in detail.items():
            if key == "non_field_errors":
                name = prefix or "base"  # a nested object's own error names that object
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            out.extend(_flatten(value, name))
        return out
    if isinstance(detail, list):
        out = []
        for index, item in enumerate(detail):
            nested = isinstance(item, dict | list) and not isinstance(item, str)
            out.extend(_flatten(item, f"{prefix}[{index}]" if nested else prefix))
        return out
    return [{"name": prefix or "base", "reason": str(detail)}]


def fleet_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every DRF error in Fleet's shape and status."""
    if isinstance(exc, FleetAPIError):
        return Response(error_body(exc.message, [{"name": exc.name, "reason": exc.reason}]), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "not found")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
        response.data = error_body("Validation Failed", _flatten(exc.detail))
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response.status_code = status.HTTP_401_UNAUTHORIZED
        response.data = error_body("Authentication required", [{"name": "base", "reason": "Authentication required"}])
    elif isinstance(exc, exceptions.PermissionDenied):
        response.data = error_body("Permission Denied", [{"name": "base", "reason": "forbidden"}])
    elif isinstance(exc, exceptions.NotFound):
        response.data = error_body("Resource Not Found", [{"name": "base", "reason": str(exc.detail)}])
    elif isinstance(exc, exceptions.ParseError | exceptions.UnsupportedMediaType):
        response.status_code = status.HTTP_400_BAD_REQUEST
        response.data = error_body("Bad request", [{"name": "base", "reason": str(exc.detail)}])
    elif isinstance(exc, exceptions.Throttled):
        response.data = error_body("Too Many Requests", [{"name": "base", "reason": str(exc.detail)}])
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        response.data = error_body(str(detail), [{"name": "base", "reason": str(detail)}])
    return response


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body("Resource Not Found", [{"name": "base", "reason": "not found"}]), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception or Http404())


def handler500(request: HttpRequest) -> HttpResponse:
    """No trace ever reaches a client; the error is in the server log."""
    if _wants_json(request):
        body = error_body("Internal Server Error", [{"name": "base", "reason": "internal server error"}])
        return JsonResponse(body, status=500)
    from django.views.defaults import server_error

    return server_error(request)
