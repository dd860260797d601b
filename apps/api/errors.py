"""Errors in Alpaca's shape: `{"code": <int>, "message": "..."}` with the matching HTTP status.

Alpaca's codes are the HTTP status followed by five digits (40010000 bad request, 40110000
unauthorized, 40310000 forbidden / insufficient buying power, 40410000 not found, 42210000
validation, 42910000 rate limit).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ApiError(exceptions.APIException):
    """An error raised by a view with an explicit status and message."""

    def __init__(self, message: str, *, status_code: int = 422, code: int | None = None) -> None:
        super().__init__(detail=message)
        self.status_code = status_code
        self.alpaca_code = code if code is not None else alpaca_code(status_code)


def alpaca_code(status_code: int) -> int:
    return status_code * 100000 + 10000


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        out: list[str] = []
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.extend(_flatten(value, "" if key == "non_field_errors" else name))
        return out
    if isinstance(detail, list):
        return [m for item in detail for m in _flatten(item, prefix)]
    return [f"{prefix}: {detail}" if prefix else str(detail)]


def error_response(status_code: int, message: str, *, code: int | None = None) -> Response:
    return Response({"code": code or alpaca_code(status_code), "message": message}, status=status_code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler: every API error leaves as Alpaca's error object."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        # Alpaca answers 422 to a well-formed request whose values are wrong.
        return error_response(status.HTTP_422_UNPROCESSABLE_ENTITY, "; ".join(_flatten(exc.detail)))
    if isinstance(exc, ApiError):
        return error_response(exc.status_code, str(exc.detail), code=exc.alpaca_code)
    handled = drf_exception_handler(exc, context)
    if handled is None:
        return None
    response = handled
    if isinstance(exc, exceptions.NotFound):
        message = "not found" if str(exc.detail) == exceptions.NotFound.default_detail else str(exc.detail)
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        message = f"request is not authorized: {exc.detail}"
    else:
        message = "; ".join(_flatten(getattr(exc, "detail", str(exc))))
    response.data = {"code": alpaca_code(response.status_code), "message": message}
    return response
