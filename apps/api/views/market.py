"""Assets, market clock and calendar."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.instruments.presenters import instrument_to_alpaca

from .. import selectors
from ..errors import ApiError
from ..presenters import clock_to_alpaca
from ..serializers import (
    AssetSerializer,
    AssetsQuerySerializer,
    CalendarDaySerializer,
    CalendarQuerySerializer,
    ClockSerializer,
    ErrorSerializer,
)
from .base import UUID_OR_SYMBOL_RE, ApiView, parse, require_match


class AssetsView(ApiView):
    @extend_schema(operation_id="get_all_assets", parameters=[AssetsQuerySerializer],
                   responses={200: AssetSerializer(many=True), 422: ErrorSerializer}, tags=["assets"])
    def get(self, request: Request) -> Response:
        query = parse(AssetsQuerySerializer, request.query_params, body=False)
        if query.get("asset_class") not in (None, "us_equity"):
            return Response([])  # only US equities are listed here
        instruments = selectors.instruments_filtered(
            status=query.get("status"), asset_class=query.get("asset_class"), exchange=query.get("exchange")
        )
        return Response([instrument_to_alpaca(i) for i in instruments])


class AssetView(ApiView):
    @extend_schema(operation_id="get_asset", responses={200: AssetSerializer, 404: ErrorSerializer}, tags=["assets"])
    def get(self, request: Request, symbol_or_id: str) -> Response:
        require_match(UUID_OR_SYMBOL_RE, symbol_or_id, what=f"asset {symbol_or_id[:40]}")
        instrument = selectors.instrument_by_symbol_or_id(symbol_or_id=symbol_or_id)
        if instrument is None:
            raise ApiError(f"asset not found for {symbol_or_id}", status_code=404)
        return Response(instrument_to_alpaca(instrument))


class ClockView(ApiView):
    @extend_schema(operation_id="get_clock", responses={200: ClockSerializer}, tags=["calendar"])
    def get(self, request: Request) -> Response:
        return Response(clock_to_alpaca(selectors.market_clock()))


class CalendarView(ApiView):
    @extend_schema(operation_id="get_calendar", parameters=[CalendarQuerySerializer],
                   responses={200: CalendarDaySerializer(many=True),
                              422: OpenApiResponse(ErrorSerializer)}, tags=["calendar"])
    def get(self, request: Request) -> Response:
        query = parse(CalendarQuerySerializer, request.query_params, body=False)
        return Response(selectors.calendar_days(start=query.get("start"), end=query.get("end")))
