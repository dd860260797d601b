"""Orders in the Alpaca Trading API JSON shape (what alpaca-py's `alpaca.trading.models.Order` parses)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from .models import Order


def decimal_str(value: Decimal | None) -> str | None:
    """Alpaca sends numbers as strings without trailing zeros ("10", "187.21")."""
    if value is None:
        return None
    text = f"{value.normalize():f}"
    return text


def _ts(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def order_to_alpaca(order: Order) -> dict[str, Any]:
    position_intent = "buy_to_open" if order.side == "buy" else "sell_to_close"
    return {
        "id": str(order.id),
        "client_order_id": order.client_order_id,
        "created_at": _ts(order.created_at),
        "updated_at": _ts(order.updated_at),
        "submitted_at": _ts(order.submitted_at),
        "filled_at": _ts(order.filled_at),
        "expired_at": _ts(order.expired_at),
        "expires_at": None,
        "canceled_at": _ts(order.canceled_at),
        "failed_at": _ts(order.failed_at),
        "replaced_at": _ts(order.replaced_at),
        "replaced_by": str(order.replaced_by_id) if order.replaced_by_id else None,
        "replaces": str(order.replaces_id) if order.replaces_id else None,
        "asset_id": str(order.instrument_id),
        "symbol": order.symbol,
        "asset_class": order.asset_class,
        "notional": decimal_str(order.notional),
        "qty": decimal_str(order.qty),
        "filled_qty": decimal_str(order.filled_qty) or "0",
        "filled_avg_price": decimal_str(order.filled_avg_price),
        "order_class": "simple",
        "order_type": order.type,
        "type": order.type,
        "side": order.side,
        "time_in_force": order.time_in_force,
        "limit_price": decimal_str(order.limit_price),
        "stop_price": decimal_str(order.stop_price),
        "status": order.status,
        "extended_hours": order.extended_hours,
        "legs": None,
        "trail_percent": None,
        "trail_price": None,
        "hwm": None,
        "position_intent": position_intent,
        "ratio_qty": None,
    }
