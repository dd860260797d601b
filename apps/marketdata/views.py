"""Alpaca market-data endpoints (`/v2/stocks/quotes/latest`, `/v2/stocks/bars`).

Alpaca's data API returns prices and sizes as JSON numbers, and alpaca-py parses them as such, so
Decimal values become numbers here, at the edge, and nowhere else.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from decimal import Decimal
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.marketdata.selectors import (
    Bar,
    Quote,
    TimeframeError,
    bars_for_symbols,
    quotes_latest,
    timeframe_parse,
)

MAX_SYMBOLS = 200
MAX_LIMIT = 10_000
DEFAULT_LIMIT = 1_000


def _number(value: Decimal | None) -> float | int:
    if value is None:
        return 0
    return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else float(value)


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _error(status: int, message: str) -> Response:
    return Response({"code": status * 100000, "message": message}, status=status)


def _symbols(request: Request) -> list[str]:
    raw = request.query_params.get("symbols", "")
    symbols = list(dict.fromkeys(s.strip().upper() for s in raw.split(",") if s.strip()))
    if not symbols:
        raise ValueError("symbols is required")
    if len(symbols) > MAX_SYMBOLS:
        raise ValueError(f"at most {MAX_SYMBOLS} symbols per request")
    return symbols


def _parse_time(raw: str, name: str) -> dt.datetime:
    try:
        if len(raw) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(raw), dt.time(0), tzinfo=dt.UTC)
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{name} must be RFC 3339 or YYYY-MM-DD: {raw!r}") from exc
    if moment.tzinfo is None:
        raise ValueError(f"{name} needs a time zone offset: {raw!r}")
    return moment.astimezone(dt.UTC)


def quote_json(quote: Quote) -> dict[str, Any]:
    return {
        "t": _rfc3339(quote.ts) if quote.ts else None,
        "ax": "", "ap": _number(quote.ask), "as": _number(quote.ask_size),
        "bx": "", "bp": _number(quote.bid), "bs": _number(quote.bid_size),
        "c": [], "z": "",
    }


def bar_json(bar: Bar) -> dict[str, Any]:
    return {"t": _rfc3339(bar.start), "o": _number(bar.open), "h": _number(bar.high), "l": _number(bar.low),
            "c": _number(bar.close), "v": _number(bar.volume), "n": bar.trade_count, "vw": _number(bar.vwap)}


@extend_schema(
    summary="Latest quote per symbol (Alpaca market-data shape)",
    parameters=[OpenApiParameter("symbols", OpenApiTypes.STR, required=True, description="comma-separated")],
    responses={200: OpenApiTypes.OBJECT},
)
class LatestQuotesView(APIView):
    """GET /v2/stocks/quotes/latest?symbols=AAPL,MSFT — the latest quote per symbol (omitted when none)."""

    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        try:
            symbols = _symbols(request)
        except ValueError as exc:
            return _error(400, str(exc))
        quotes = quotes_latest(symbols=symbols)
        return Response({"quotes": {symbol: quote_json(quotes[symbol]) for symbol in symbols if symbol in quotes}})


@extend_schema(
    summary="OHLCV bars per symbol (Alpaca market-data shape)",
    parameters=[
        OpenApiParameter("symbols", OpenApiTypes.STR, required=True, description="comma-separated"),
        OpenApiParameter("timeframe", OpenApiTypes.STR, required=True, description="1Min..59Min, 1Hour..23Hour, 1Day"),
        OpenApiParameter("start", OpenApiTypes.DATETIME),
        OpenApiParameter("end", OpenApiTypes.DATETIME),
        OpenApiParameter("limit", OpenApiTypes.INT),
        OpenApiParameter("page_token", OpenApiTypes.STR),
        OpenApiParameter("sort", OpenApiTypes.STR, enum=["asc", "desc"]),
    ],
    responses={200: OpenApiTypes.OBJECT},
)
class BarsView(APIView):
    """GET /v2/stocks/bars?symbols=&timeframe=&start=&end=&limit=&page_token=&sort=asc|desc"""

    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        params = request.query_params
        try:
            symbols = _symbols(request)
            timeframe = timeframe_parse(params.get("timeframe", ""))
            now = dt.datetime.now(dt.UTC)
            end = _parse_time(params["end"], "end") if params.get("end") else now
            start = (_parse_time(params["start"], "start") if params.get("start")
                     else dt.datetime.combine(now.date(), dt.time(0), tzinfo=dt.UTC))
            limit = int(params.get("limit") or DEFAULT_LIMIT)
            if not 1 <= limit <= MAX_LIMIT:
                raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
            sort = params.get("sort") or "asc"
            if sort not in {"asc", "desc"}:
                raise ValueError("sort must be asc or desc")
            offset = int(base64.urlsafe_b64decode(params["page_token"]).decode()) if params.get("page_token") else 0
        except (ValueError, TimeframeError, binascii.Error) as exc:
            return _error(422, str(exc))
        by_symbol = bars_for_symbols(symbols=sorted(symbols), timeframe=timeframe, start=start, end=end)
        flat = [(symbol, bar) for symbol in sorted(by_symbol)
                for bar in (by_symbol[symbol] if sort == "asc" else reversed(by_symbol[symbol]))]
        page = flat[offset:offset + limit]
        bars: dict[str, list[dict[str, Any]]] = {}
        for symbol, bar in page:
            bars.setdefault(symbol, []).append(bar_json(bar))
        token = base64.urlsafe_b64encode(str(offset + limit).encode()).decode() if offset + limit < len(flat) else None
        return Response({"bars": bars, "next_page_token": token})
