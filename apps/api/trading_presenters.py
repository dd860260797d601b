"""Account and positions in Alpaca's JSON shape, marked to the latest quotes (apps.marketdata)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone

from apps.accounts.models import Account, AccountStatus
from apps.instruments.models import Instrument
from apps.ledger.models import Position
from apps.ledger.selectors import cash_balances, equity_at_close_before, positions_for_account, shares_available
from apps.marketdata.selectors import Quote, quotes_latest
from apps.orders.presenters import decimal_str

from .presenters import rfc3339

ZERO = Decimal("0")
ACCOUNT_STATUS = {
    AccountStatus.ACTIVE: "ACTIVE",
    AccountStatus.FROZEN: "DISABLED",
    AccountStatus.CLOSED: "ACCOUNT_CLOSED",
}


def _money(value: Decimal) -> str:
    return decimal_str(value.quantize(Decimal("0.01"))) or "0"


def _price(quote: Quote | None) -> Decimal | None:
    return quote.reference_price if quote is not None else None


def position_to_alpaca(position: Position, instrument: Instrument | None, quote: Quote | None,
                       qty_available: Decimal) -> dict[str, Any]:
    """A long position (no shorting). Without a quote the position is valued at its entry price."""
    qty = position.qty
    current = _price(quote) or position.avg_entry_price
    market_value = qty * current
    unrealized = market_value - position.cost_basis
    change = quote.change if quote is not None and quote.change is not None else None
    lastday = current - change if change is not None else None
    return {
        "asset_id": str(instrument.id) if instrument else None,
        "symbol": position.symbol,
        "exchange": instrument.exchange if instrument else "",
        "asset_class": instrument.asset_class if instrument else "us_equity",
        "asset_marginable": instrument.marginable if instrument else False,
        "avg_entry_price": decimal_str(position.avg_entry_price),
        "qty": decimal_str(qty),
        "qty_available": decimal_str(qty_available),
        "side": "long",
        "market_value": _money(market_value),
        "cost_basis": _money(position.cost_basis),
        "unrealized_pl": _money(unrealized),
        "unrealized_plpc": decimal_str((unrealized / position.cost_basis).quantize(Decimal("0.0001")))
        if position.cost_basis else "0",
        "unrealized_intraday_pl": _money(qty * change) if change is not None else None,
        "unrealized_intraday_plpc": decimal_str((change / lastday).quantize(Decimal("0.0001")))
        if change is not None and lastday else None,
        "current_price": decimal_str(current),
        "lastday_price": decimal_str(lastday) if lastday is not None else None,
        "change_today": decimal_str((change / lastday).quantize(Decimal("0.0001")))
        if change is not None and lastday else None,
    }


def positions_to_alpaca(account: Account, positions: list[Position]) -> list[dict[str, Any]]:
    symbols = [p.symbol for p in positions]
    instruments = {i.symbol: i for i in Instrument.objects.filter(symbol__in=symbols)}
    quotes = quotes_latest(symbols=symbols) if symbols else {}
    return [
        position_to_alpaca(p, instruments.get(p.symbol), quotes.get(p.symbol),
                           shares_available(account=account, symbol=p.symbol))
        for p in positions
    ]


def account_to_alpaca(account: Account) -> dict[str, Any]:
    """A cash account (multiplier 1): buying power is the cash not held for open orders."""
    cash = cash_balances(account=account)
    positions = list(positions_for_account(account=account))
    quotes = quotes_latest(symbols=[p.symbol for p in positions]) if positions else {}
    long_value = sum(((_price(quotes.get(p.symbol)) or p.avg_entry_price) * p.qty for p in positions), ZERO)
    equity = cash.total + long_value
    # Equity at the end of the previous day, its positions marked at that day's close.
    last_equity = equity_at_close_before(account=account, day=timezone.now().date())
    if last_equity is None:
        last_equity = equity
    active = account.status == AccountStatus.ACTIVE
    return {
        "id": str(account.id),
        "account_number": account.account_number,
        "status": ACCOUNT_STATUS.get(AccountStatus(account.status), "INACTIVE"),
        "crypto_status": "INACTIVE",
        "currency": account.currency,
        "buying_power": _money(cash.available),
        "regt_buying_power": _money(cash.available),
        "daytrading_buying_power": "0",
        "non_marginable_buying_power": _money(cash.available),
        "options_buying_power": "0",
        "cash": _money(cash.total),
        "accrued_fees": "0",
        "pending_transfer_out": "0",
        "pending_transfer_in": "0",
        "portfolio_value": _money(equity),
        "equity": _money(equity),
        "last_equity": _money(last_equity),
        "long_market_value": _money(long_value),
        "short_market_value": "0",
        "initial_margin": "0",
        "maintenance_margin": "0",
        "last_maintenance_margin": "0",
        "sma": "0",
        "multiplier": "1",
        "pattern_day_trader": False,
        "trading_blocked": not active,
        "transfers_blocked": not active,
        "account_blocked": account.status == AccountStatus.CLOSED,
        "trade_suspended_by_user": False,
        "shorting_enabled": False,
        "daytrade_count": 0,
        "options_approved_level": 0,
        "options_trading_level": 0,
        "created_at": rfc3339(account.created_at),
    }
