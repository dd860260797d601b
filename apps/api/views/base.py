"""The base view of the authenticated API and helpers shared by the endpoint modules."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.http import QueryDict
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from apps.accounts.models import Account, User
from apps.accounts.selectors import account_for_user

from ..errors import ApiError


class ApiView(APIView):
    """Authenticated (API key, bearer token or session) and rate limited per credential."""

    permission_classes = [IsAuthenticated]
    # Alpaca's API is JSON only; form encodings cannot say "this is a number, not a string".
    parser_classes = [JSONParser]

    def user(self, request: Request) -> User:
        user = request.user
        assert isinstance(user, User)  # noqa: S101 - guaranteed by IsAuthenticated
        return user

    def account(self, request: Request) -> Account:
        """The caller's brokerage account; a login without one (e.g. staff) gets 403."""
        cached = getattr(request, "_brokerage_account", None)
        if cached is not None:
            return cached
        try:
            account = account_for_user(user=self.user(request))
        except Account.DoesNotExist as exc:
            raise ApiError("this login has no brokerage account", status_code=403) from exc
        request._brokerage_account = account  # type: ignore[attr-defined]
        return account


def parse(serializer_class: type[Serializer], data: Any, *, body: bool = True) -> dict[str, Any]:
    """Validate request input; a failure becomes Alpaca's 422 through the exception handler.

    A parameter given twice is refused rather than silently taking the last value, and so is a
    field or query parameter the operation does not know (a misspelt `limit_prise` must not place
    a market order). `body` only names the input in messages.
    """
    if isinstance(data, QueryDict):
        repeated = sorted(key for key in data if len(data.getlist(key)) > 1)
        if repeated:
            raise ApiError(f"parameter {repeated[0]!r} is given more than once", status_code=422)
        data = data.dict()
    if not isinstance(data, dict):
        raise ApiError("request body must be a JSON object", status_code=422)
    serializer = serializer_class(data=data)
    unknown = sorted(set(data) - set(serializer.fields))
    if unknown:
        kind = "field" if body else "query parameter"
        raise ApiError(f"unknown {kind}(s): {', '.join(map(str, unknown))}", status_code=422)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def require_match(pattern: re.Pattern[str], value: str, *, what: str, status_code: int = 404) -> str:
    """Path parameters are matched before they reach a query (a NUL byte must not reach PostgreSQL)."""
    if not pattern.fullmatch(value):
        raise ApiError(f"{what} not found" if status_code == 404 else f"invalid {what}", status_code=status_code)
    return value


SYMBOL_RE = re.compile(r"[A-Za-z0-9.\-]{1,16}")
UUID_OR_SYMBOL_RE = re.compile(r"[A-Za-z0-9.\-]{1,36}")


def parse_uuid(value: str, *, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise ApiError(f"{what} not found", status_code=404) from exc
