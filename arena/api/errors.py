"""Every API error as ``{"error": {"code", "message", "fields"}}``.

``code`` is stable for programs (``invalid``, ``not_found``, ``not_authenticated``,
``permission_denied``, ``throttled``, ``locked_out`` …); ``message`` is a sentence a
person can act on; ``fields`` maps each invalid field to its messages (``{}`` when the
error is not about a field). Django's ``ValidationError`` raised by a service becomes
a 400 like a serializer's; ``Http404`` a 404.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import csrf as csrf_views
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

NON_FIELD = "non_field_errors"


class ErrorDetail(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, for programs: invalid, not_found, not_authenticated, "
                                           "permission_denied, conflict, throttled, locked_out …")
    message = serializers.CharField(help_text="What went wrong and what to do, for a person.")
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                   help_text="Each invalid field and its messages; {} otherwise.")


class ErrorBody(serializers.Serializer):
    error = ErrorDetail()


ERROR = OpenApiResponse(response=ErrorBody, description='`{"error": {"code", "message", "fields"}}`')


class Conflict(exceptions.APIException):
    """The request is valid but the object's state refuses it (409)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The object's current state does not allow this."


def _flat(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [f"{key}: {message}" for key, value in detail.items() for message in _flat(value)]
    if isinstance(detail, list):
        return [message for item in detail for message in _flat(item)]
    return [str(detail)]


def _fields(detail: Any) -> dict[str, list[str]]:
    if not isinstance(detail, dict):
        return {}
    return {key: _flat(value) for key, value in detail.items() if key != NON_FIELD}


def _validation_message(detail: Any) -> str:
    if isinstance(detail, dict):
        general = _flat(detail.get(NON_FIELD, []))
        named = [key for key in detail if key != NON_FIELD]
        parts = list(general)
        if named:
            parts.append("Check " + ", ".join(f"'{name}'" for name in named) + ": "
                         + "; ".join(f"{name}: {_flat(detail[name])[0]}" for name in named))
        return " ".join(parts) or "The request is invalid."
    return " ".join(_flat(detail)) or "The request is invalid."


def _code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    return exc.default_code


def body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The error body every API error has."""
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's exception handler, with Django's exceptions mapped and the body reshaped."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound("No such object, or it is not yours.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = exception_handler(exc, context)
    if response is None:
        return None  # not an API error: a 500 that must reach the logs
    assert isinstance(exc, exceptions.APIException)
    if isinstance(exc, exceptions.ValidationError):
        response.data = body("invalid", _validation_message(exc.detail), _fields(exc.detail))
    elif isinstance(exc, exceptions.Throttled):
        wait = f" Try again in {int(exc.wait)} s." if exc.wait is not None else ""
        response.data = body("throttled", "Too many requests." + wait)
    else:
        response.data = body(_code(exc), " ".join(_flat(exc.detail)))
    return response


def lockout_response(request: HttpRequest, original_response: HttpResponse | None,
                     credentials: Any) -> HttpResponse:
    """django-axes' ``AXES_LOCKOUT_CALLABLE``: an API login already answered with its JSON
    ``locked_out`` error and the sign-in page with its own form and message; any other login
    (the admin's form) gets a plain message."""
    if original_response is not None and (request.path.startswith("/api/") or request.path == "/login/"):
        return original_response
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return HttpResponse(f"Too many failed logins: try again in {minutes} minutes, or ask an admin to unlock "
                        "your account.", status=403, content_type="text/plain; charset=utf-8")


@csrf_exempt  # it changes nothing; any method gets the same 404
def api_not_found(request: HttpRequest) -> JsonResponse:
    """An /api/ address that names no route: the API's 404, in its error shape."""
    message = f"No API route at {request.path}; the routes are listed at /api/docs/."
    return JsonResponse(body("not_found", message), status=404)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: the API's 403 in its error shape; Django's page elsewhere."""
    if request.path.startswith("/api/"):
        message = (f"CSRF Failed: {reason} Send the X-CSRFToken header with the csrftoken cookie's value "
                   "(GET /api/auth/csrf/).")
        return JsonResponse(body("permission_denied", message), status=403)
    return csrf_views.csrf_failure(request, reason=reason)
