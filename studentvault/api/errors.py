"""The one JSON error shape of the API: ``{"code": str, "detail": str, "field": str | null}``.

``code`` is stable and machine-readable (``not_authenticated``, ``permission_denied``, access
reason codes such as ``mfa_required`` or ``contract_inactive``, ``not_found``, ``throttled``,
``invalid``, ``purpose_required``, ``method_not_allowed``); ``detail`` is for people and
never contains student data; ``field`` names the request parameter at fault, else null.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ErrorSerializer(serializers.Serializer[Any]):
    """Documentation of the error body (OpenAPI)."""

    code = serializers.CharField()
    detail = serializers.CharField()
    field = serializers.CharField(allow_null=True)


def error_body(code: str, detail: str, field: str | None = None) -> dict[str, str | None]:
    """The error body of the API."""
    return {"code": code, "detail": detail, "field": field}


def _first(detail: Any) -> tuple[str, str, str | None]:
    """(code, text, field) of a DRF error detail (str, list or dict of them)."""
    if isinstance(detail, dict):
        for name, value in detail.items():
            code, text, _ = _first(value)
            return code, text, None if name == "non_field_errors" else str(name)
    if isinstance(detail, list) and detail:
        return _first(detail[0])
    code = getattr(detail, "code", None) or "invalid"
    return str(code), str(detail), None


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler (status, WWW-Authenticate, Retry-After) with our body."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    code, text, field = _first(exc.detail)
    if isinstance(exc, exceptions.Throttled):
        code, text = "throttled", "Too many requests: slow down and retry later."
    response.data = error_body(code, text, field)
    return response
