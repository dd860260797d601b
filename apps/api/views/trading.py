"""Account, orders, positions, activities and portfolio history (Alpaca Trading API paths).

Views parse and validate input, then call apps.orders services and apps.ledger / apps.orders
selectors, always scoped to the caller's account: another customer's order or position is a 404,
indistinguishable from one that does not exist.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_DOWN, Decimal
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.models import Account
from apps.instruments.models import Instrument
from apps.ledger import selectors as ledger
from apps.orders import selectors as orders
from apps.orders.errors import OrderRejected
from apps.orders.models import Order
from apps.orders.presenters import order_to_alpaca
from apps.orders.services import order_cancel_request, order_place, order_replace

from ..errors import ApiError, alpaca_code
from ..serializers import (
    SYMBOL_PATTERN,
    ErrorSerializer,
    NumberOrStringField,
    QueryBooleanField,
    StrictBooleanField,
    StrictCharField,
    StrictRegexField,
)
from ..trading_presenters import account_to_alpaca, positions_to_alpaca
from .base import UUID_OR_SYMBOL_RE, ApiView, parse, require_match

ACTIVITY_TYPE_RE = re.compile(r"[A-Za-z_]{2,16}")
QTY = {"max_digits": 28, "decimal_places": 9, "min_value": Decimal("0.000000001")}
PRICE = {"max_digits": 20, "decimal_places": 6, "min_value": Decimal("0.000001")}
ERRORS = {403: ErrorSerializer, 404: ErrorSerializer, 422: ErrorSerializer}


def rejected(exc: OrderRejected) -> ApiError:
    status = exc.http_status
    return ApiError(exc.message, status_code=status, code=alpaca_code(status))


class OrderRequestSerializer(serializers.Serializer):
    symbol = StrictRegexField(SYMBOL_PATTERN)
    qty = NumberOrStringField(required=False, allow_null=True, **QTY)  # type: ignore[arg-type]
    notional = NumberOrStringField(required=False, allow_null=True, **PRICE)  # type: ignore[arg-type]
    side = serializers.ChoiceField(choices=["buy", "sell"])
    type = serializers.ChoiceField(choices=["market", "limit", "stop", "stop_limit"])
    time_in_force = serializers.ChoiceField(choices=["day", "gtc", "ioc", "fok"])
    limit_price = NumberOrStringField(required=False, allow_null=True, **PRICE)  # type: ignore[arg-type]
    stop_price = NumberOrStringField(required=False, allow_null=True, **PRICE)  # type: ignore[arg-type]
    client_order_id = StrictCharField(required=False, allow_null=True, max_length=128)
    extended_hours = StrictBooleanField(required=False, default=False)
    order_class = serializers.ChoiceField(choices=["simple", ""], required=False, allow_null=True)
    position_intent = serializers.ChoiceField(choices=["buy_to_open", "sell_to_close"], required=False,
                                              allow_null=True)
    # Alpaca order features we do not offer: accepted as absent/null, refused when set.
    trail_price = serializers.JSONField(required=False, allow_null=True)
    trail_percent = serializers.JSONField(required=False, allow_null=True)
    take_profit = serializers.JSONField(required=False, allow_null=True)
    stop_loss = serializers.JSONField(required=False, allow_null=True)
    legs = serializers.JSONField(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if (attrs.get("qty") is None) == (attrs.get("notional") is None):
            raise serializers.ValidationError("exactly one of qty and notional is required")
        for unsupported in ("trail_price", "trail_percent", "take_profit", "stop_loss", "legs"):
            if attrs.get(unsupported) is not None:
                raise serializers.ValidationError(f"{unsupported} is not supported (simple orders only)")
        return attrs


class ReplaceRequestSerializer(serializers.Serializer):
    qty = NumberOrStringField(required=False, allow_null=True, **QTY)  # type: ignore[arg-type]
    time_in_force = serializers.ChoiceField(choices=["day", "gtc", "ioc", "fok"], required=False, allow_null=True)
    limit_price = NumberOrStringField(required=False, allow_null=True, **PRICE)  # type: ignore[arg-type]
    stop_price = NumberOrStringField(required=False, allow_null=True, **PRICE)  # type: ignore[arg-type]
    trail = serializers.JSONField(required=False, allow_null=True)
    client_order_id = StrictCharField(required=False, allow_null=True, max_length=128)

    def validate_trail(self, value: Any) -> None:
        if value is not None:
            raise serializers.ValidationError("trailing stops are not supported")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not any(attrs.get(k) is not None for k in ("qty", "time_in_force", "limit_price", "stop_price")):
            raise serializers.ValidationError("nothing to replace")
        return attrs


class OrdersQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["open", "closed", "all"], required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500)
    after = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    direction = serializers.ChoiceField(choices=["asc", "desc"], required=False)
    nested = QueryBooleanField(required=False)
    side = serializers.ChoiceField(choices=["buy", "sell"], required=False)
    symbols = serializers.CharField(required=False, max_length=2000)


class ClosePositionSerializer(serializers.Serializer):
    qty = serializers.DecimalField(required=False, **QTY)  # type: ignore[arg-type]
    percentage = serializers.DecimalField(required=False, max_digits=12, decimal_places=9,
                                          min_value=Decimal("0.000000001"), max_value=Decimal("100"))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "qty" in attrs and "percentage" in attrs:
            raise serializers.ValidationError("only one of qty and percentage")
        return attrs


class ClientOrderIdQuerySerializer(serializers.Serializer):
    client_order_id = serializers.CharField(max_length=128)


class CloseAllQuerySerializer(serializers.Serializer):
    cancel_orders = QueryBooleanField(required=False, default=False)


class ActivitiesQuerySerializer(serializers.Serializer):
    activity_types = serializers.CharField(required=False, max_length=500)
    date = serializers.DateField(required=False)
    after = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    direction = serializers.ChoiceField(choices=["asc", "desc"], required=False)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=100)
    page_token = serializers.CharField(required=False, max_length=200)


class PortfolioHistoryQuerySerializer(serializers.Serializer):
    period = serializers.RegexField(r"^\d+[DWMA]$", required=False)
    timeframe = serializers.ChoiceField(choices=["1Min", "5Min", "15Min", "1H", "1D"], required=False)
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
    date_end = serializers.DateField(required=False)
    intraday_reporting = serializers.CharField(required=False, max_length=32)
    pnl_reset = serializers.CharField(required=False, max_length=32)
    extended_hours = QueryBooleanField(required=False)
    cashflow_types = serializers.CharField(required=False, max_length=200)


def _place(account: Account, data: dict[str, Any]) -> Order:
    try:
        return order_place(
            account=account, symbol=data["symbol"], side=data["side"], type=data["type"],
            time_in_force=data["time_in_force"], qty=data.get("qty"), notional=data.get("notional"),
            limit_price=data.get("limit_price"), stop_price=data.get("stop_price"),
            client_order_id=data.get("client_order_id") or None, extended_hours=data.get("extended_hours", False),
        )
    except OrderRejected as exc:
        raise rejected(exc) from exc


class AccountView(ApiView):
    @extend_schema(operation_id="get_account", responses={200: OpenApiTypes.OBJECT}, tags=["account"])
    def get(self, request: Request) -> Response:
        return Response(account_to_alpaca(self.account(request)))


class OrdersView(ApiView):
    @extend_schema(operation_id="get_orders", parameters=[OrdersQuerySerializer],
                   responses={200: OpenApiTypes.OBJECT, 422: ErrorSerializer}, tags=["orders"])
    def get(self, request: Request) -> Response:
        query = parse(OrdersQuerySerializer, request.query_params, body=False)
        symbols = [s.strip() for s in query.get("symbols", "").split(",") if s.strip()] or None
        rows = orders.orders_for_account(
            account=self.account(request), status=query.get("status"), limit=query.get("limit", 50),
            after=query.get("after"), until=query.get("until"), direction=query.get("direction", "desc"),
            symbols=symbols,
        )
        side = query.get("side")
        return Response([order_to_alpaca(o) for o in rows if side is None or o.side == side])

    @extend_schema(operation_id="submit_order", request=OrderRequestSerializer,
                   responses={200: OpenApiTypes.OBJECT, **ERRORS}, tags=["orders"])
    def post(self, request: Request) -> Response:
        data = parse(OrderRequestSerializer, request.data)
        return Response(order_to_alpaca(_place(self.account(request), data)))

    @extend_schema(operation_id="cancel_orders", request=None, responses={207: OpenApiTypes.OBJECT},
                   tags=["orders"])
    def delete(self, request: Request) -> Response:
        account = self.account(request)
        results = []
        for order in orders.orders_for_account(account=account, status="open", limit=500):
            try:
                canceled = order_cancel_request(account=account, order_id=order.id)
                results.append({"id": str(order.id), "status": 200, "body": order_to_alpaca(canceled)})
            except OrderRejected as exc:
                results.append({"id": str(order.id), "status": exc.http_status,
                                "body": {"code": alpaca_code(exc.http_status), "message": exc.message}})
        return Response(results, status=207)


class OrderByClientOrderIdView(ApiView):
    @extend_schema(operation_id="get_order_by_client_id",
                   parameters=[ClientOrderIdQuerySerializer],
                   responses={200: OpenApiTypes.OBJECT, 404: ErrorSerializer}, tags=["orders"])
    def get(self, request: Request) -> Response:
        client_order_id = parse(ClientOrderIdQuerySerializer, request.query_params, body=False)["client_order_id"]
        order = orders.order_by_client_order_id(account=self.account(request), client_order_id=client_order_id)
        if order is None:
            raise ApiError("order not found", status_code=404)
        return Response(order_to_alpaca(order))


class OrderView(ApiView):
    def _order(self, request: Request, order_id: str) -> Order:
        order = orders.order_get(account=self.account(request), order_id=order_id)
        if order is None:
            raise ApiError("order not found", status_code=404)
        return order

    @extend_schema(operation_id="get_order", responses={200: OpenApiTypes.OBJECT, 404: ErrorSerializer},
                   parameters=[OpenApiParameter("nested", bool)], tags=["orders"])
    def get(self, request: Request, order_id: str) -> Response:
        return Response(order_to_alpaca(self._order(request, order_id)))

    @extend_schema(operation_id="replace_order", request=ReplaceRequestSerializer,
                   responses={200: OpenApiTypes.OBJECT, **ERRORS}, tags=["orders"])
    def patch(self, request: Request, order_id: str) -> Response:
        order = self._order(request, order_id)
        data = parse(ReplaceRequestSerializer, request.data)
        try:
            new = order_replace(account=self.account(request), order_id=order.id, qty=data.get("qty"),
                                limit_price=data.get("limit_price"), stop_price=data.get("stop_price"),
                                time_in_force=data.get("time_in_force"),
                                client_order_id=data.get("client_order_id") or None)
        except OrderRejected as exc:
            raise rejected(exc) from exc
        return Response(order_to_alpaca(new))

    @extend_schema(operation_id="cancel_order", responses={204: None, 404: ErrorSerializer, 422: ErrorSerializer},
                   tags=["orders"])
    def delete(self, request: Request, order_id: str) -> Response:
        order = self._order(request, order_id)
        try:
            order_cancel_request(account=self.account(request), order_id=order.id)
        except OrderRejected as exc:
            raise rejected(exc) from exc
        return Response(status=204)


def _close_qty(position_qty: Decimal, instrument: Instrument | None, data: dict[str, Any]) -> Decimal:
    if "qty" in data:
        qty: Decimal = data["qty"]
    elif "percentage" in data:
        qty = position_qty * data["percentage"] / 100
        if instrument is None or not instrument.fractionable:
            lot = (instrument.lot_size if instrument else None) or Decimal("1")
            qty = (qty / lot).to_integral_value(rounding=ROUND_DOWN) * lot
        else:
            qty = qty.quantize(Decimal("0.000000001"), rounding=ROUND_DOWN)
    else:
        qty = position_qty
    if qty <= 0:
        raise ApiError("the quantity to close rounds to zero", status_code=422)
    if qty > position_qty:
        raise ApiError(f"insufficient qty available for order (requested: {qty}, available: {position_qty})",
                       status_code=403)
    return qty


def _close_position(account: Account, symbol: str, data: dict[str, Any]) -> Order:
    """Closing is a market sell through order_place, the same risk path as any order."""
    position = ledger.position_get(account=account, symbol=symbol)
    if position is None:
        raise ApiError("position does not exist", status_code=404)
    instrument = Instrument.objects.filter(symbol=position.symbol).first()
    qty = _close_qty(position.qty, instrument, data)
    return _place(account, {"symbol": position.symbol, "side": "sell", "type": "market",
                            "time_in_force": "day", "qty": qty})


def _symbol_for(symbol_or_asset_id: str) -> str:
    require_match(UUID_OR_SYMBOL_RE, symbol_or_asset_id, what="position")
    instrument = None
    if len(symbol_or_asset_id) == 36:
        from ..selectors import instrument_by_symbol_or_id

        instrument = instrument_by_symbol_or_id(symbol_or_id=symbol_or_asset_id)
    return instrument.symbol if instrument else symbol_or_asset_id.upper()


class PositionsView(ApiView):
    @extend_schema(operation_id="get_all_positions", responses={200: OpenApiTypes.OBJECT}, tags=["positions"])
    def get(self, request: Request) -> Response:
        account = self.account(request)
        return Response(positions_to_alpaca(account, list(ledger.positions_for_account(account=account))))

    @extend_schema(operation_id="close_all_positions", request=None,
                   parameters=[CloseAllQuerySerializer],
                   responses={207: OpenApiTypes.OBJECT}, tags=["positions"])
    def delete(self, request: Request) -> Response:
        account = self.account(request)
        if parse(CloseAllQuerySerializer, request.query_params, body=False)["cancel_orders"]:
            for order in orders.orders_for_account(account=account, status="open", limit=500):
                try:
                    order_cancel_request(account=account, order_id=order.id)
                except OrderRejected:
                    continue  # already terminal or pending: the close below reports what remains
        results = []
        for position in ledger.positions_for_account(account=account):
            try:
                order = _close_position(account, position.symbol, {})
                results.append({"symbol": position.symbol, "status": 200, "order_id": str(order.id),
                                "body": order_to_alpaca(order)})
            except ApiError as exc:
                results.append({"symbol": position.symbol, "status": exc.status_code,
                                "body": {"code": exc.alpaca_code, "message": str(exc.detail)}})
        return Response(results, status=207)


class PositionView(ApiView):
    @extend_schema(operation_id="get_open_position", responses={200: OpenApiTypes.OBJECT, 404: ErrorSerializer},
                   tags=["positions"])
    def get(self, request: Request, symbol_or_asset_id: str) -> Response:
        account = self.account(request)
        position = ledger.position_get(account=account, symbol=_symbol_for(symbol_or_asset_id))
        if position is None:
            raise ApiError("position does not exist", status_code=404)
        return Response(positions_to_alpaca(account, [position])[0])

    @extend_schema(operation_id="close_position", parameters=[ClosePositionSerializer], request=None,
                   responses={200: OpenApiTypes.OBJECT, **ERRORS}, tags=["positions"])
    def delete(self, request: Request, symbol_or_asset_id: str) -> Response:
        data = parse(ClosePositionSerializer, request.query_params, body=False)
        order = _close_position(self.account(request), _symbol_for(symbol_or_asset_id), data)
        return Response(order_to_alpaca(order))


class ActivitiesView(ApiView):
    @extend_schema(operation_id="get_account_activities", parameters=[ActivitiesQuerySerializer],
                   responses={200: OpenApiTypes.OBJECT, 422: ErrorSerializer}, tags=["account"])
    def get(self, request: Request, activity_type: str | None = None) -> Response:
        query = parse(ActivitiesQuerySerializer, request.query_params, body=False)
        if activity_type is not None:
            require_match(ACTIVITY_TYPE_RE, activity_type, what="activity type", status_code=422)
        types = [activity_type] if activity_type else [
            t.strip() for t in query.get("activity_types", "").split(",") if t.strip()] or None
        return Response(ledger.activities_for_account(
            account=self.account(request), activity_types=types, after=query.get("after"),
            until=query.get("until"), on_date=query.get("date"), direction=query.get("direction", "desc"),
            page_size=query.get("page_size", 100), page_token=query.get("page_token"),
        ))


class ActivitiesByTypeView(ActivitiesView):
    @extend_schema(operation_id="get_account_activities_by_type", parameters=[ActivitiesQuerySerializer],
                   responses={200: OpenApiTypes.OBJECT, 422: ErrorSerializer}, tags=["account"])
    def get(self, request: Request, activity_type: str | None = None) -> Response:
        return super().get(request, activity_type)


class PortfolioHistoryView(ApiView):
    @extend_schema(operation_id="get_portfolio_history", parameters=[PortfolioHistoryQuerySerializer],
                   responses={200: OpenApiTypes.OBJECT, 422: ErrorSerializer}, tags=["account"])
    def get(self, request: Request) -> Response:
        query = parse(PortfolioHistoryQuerySerializer, request.query_params, body=False)
        end: dt.date | None = query.get("date_end") or (query["end"].date() if query.get("end") else None)
        start: dt.date | None = query["start"].date() if query.get("start") else None
        period = query.get("period")
        if start is None and period:
            days = {"D": 1, "W": 7, "M": 30, "A": 365}[period[-1]] * int(period[:-1])
            start = (end or dt.datetime.now(dt.UTC).date()) - dt.timedelta(days=days)
        history = ledger.portfolio_history(account=self.account(request), start=start, end=end)
        return Response(history)



