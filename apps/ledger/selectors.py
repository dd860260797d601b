"""Reads of the ledger: balances, positions, balances as of a past time, and the projected read
models (activities, daily balances / portfolio history)."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from apps.accounts.models import Account

from .models import Activity, DailyBalance, LedgerAccount, Position, Posting
from .services import CASH_AVAILABLE, CASH_HELD


@dataclass(frozen=True)
class CashBalances:
    available: Decimal
    held: Decimal

    @property
    def total(self) -> Decimal:
        return self.available + self.held


def cash_balances(*, account: Account) -> CashBalances:
    """Materialized cash balances: `available` is buying power, `held` is reserved for open buys."""
    rows = dict(LedgerAccount.objects.filter(account=account, code__in=[CASH_AVAILABLE, CASH_HELD])
                .values_list("code", "balance"))
    return CashBalances(available=rows.get(CASH_AVAILABLE, Decimal("0")), held=rows.get(CASH_HELD, Decimal("0")))


def ledger_balances(*, account: Account) -> dict[str, Decimal]:
    """Every materialized balance row of the account, by code."""
    return dict(LedgerAccount.objects.filter(account=account).values_list("code", "balance"))


def shares_available(*, account: Account, symbol: str) -> Decimal:
    """Shares not reserved by open sell orders (Alpaca's qty_available)."""
    row = LedgerAccount.objects.filter(account=account, code=f"securities.{symbol}.available").first()
    return row.balance if row else Decimal("0")


def positions_for_account(*, account: Account) -> QuerySet[Position]:
    """Open positions (non-zero quantity), by symbol."""
    return Position.objects.filter(account=account).exclude(qty=0).order_by("symbol")


def position_get(*, account: Account, symbol: str) -> Position | None:
    """The open position in `symbol`, or None."""
    return Position.objects.filter(account=account, symbol=symbol.upper()).exclude(qty=0).first()


def balances_as_of(*, account: Account, as_of: datetime) -> dict[str, Decimal]:
    """Every ledger balance of the account at `as_of`, summed from the journal (not the rows)."""
    rows = (Posting.objects.filter(ledger_account__account=account, transaction__created_at__lte=as_of)
            .values_list("ledger_account__code").annotate(total=Sum("amount")).order_by("ledger_account__code"))
    return dict(rows)


def activities_for_account(*, account: Account, activity_types: list[str] | None = None,
                           after: datetime | None = None, until: datetime | None = None,
                           on_date: date | None = None, direction: str = "desc", page_size: int = 100,
                           page_token: str | None = None) -> list[dict[str, Any]]:
    """Account activities in Alpaca's shape (projected from ledger.events), newest first by default.
    `page_token` is the id of the last activity of the previous page."""
    query = Activity.objects.filter(account=account)
    if activity_types:
        query = query.filter(activity_type__in=[t.upper() for t in activity_types])
    if after:
        query = query.filter(occurred_at__gt=after)
    if until:
        query = query.filter(occurred_at__lt=until)
    if on_date:
        query = query.filter(occurred_at__date=on_date)
    descending = direction != "asc"
    if page_token:
        anchor = Activity.objects.filter(account=account, activity_id=page_token).first()
        if anchor is not None:
            if descending:
                query = query.filter(Q(occurred_at__lt=anchor.occurred_at)
                                     | Q(occurred_at=anchor.occurred_at, activity_id__lt=anchor.activity_id))
            else:
                query = query.filter(Q(occurred_at__gt=anchor.occurred_at)
                                     | Q(occurred_at=anchor.occurred_at, activity_id__gt=anchor.activity_id))
    order = ["-occurred_at", "-activity_id"] if descending else ["occurred_at", "activity_id"]
    return [row.data for row in query.order_by(*order)[: max(1, min(page_size, 100))]]


def daily_balances(*, account: Account, start: date | None = None, end: date | None = None) -> QuerySet[DailyBalance]:
    query = DailyBalance.objects.filter(account=account)
    if start:
        query = query.filter(date__gte=start)
    if end:
        query = query.filter(date__lte=end)
    return query.order_by("date")


def holdings_by_day(*, account: Account, end: date | None = None) -> list[tuple[date, dict[str, Decimal]]]:
    """Units of each security the account held at the end of every UTC day on which they changed,
    summed from the journal (available and held together), oldest first."""
    query = Posting.objects.filter(ledger_account__account=account, ledger_account__code__startswith="securities.")
    if end:
        query = query.filter(transaction__created_at__date__lte=end)
    rows = (query.annotate(day=TruncDate("transaction__created_at", tzinfo=UTC))
            .values_list("day", "ledger_account__code").annotate(delta=Sum("amount")).order_by("day"))
    held: dict[str, Decimal] = {}
    out: list[tuple[date, dict[str, Decimal]]] = []
    for day, code, delta in rows:
        symbol = code[len("securities."):code.rindex(".")]  # securities.<SYM>.available|held
        held[symbol] = held.get(symbol, Decimal("0")) + delta
        if out and out[-1][0] == day:
            out[-1] = (day, {s: q for s, q in held.items() if q})
        else:
            out.append((day, {s: q for s, q in held.items() if q}))
    return out


def _close_on_or_before(closes: list[tuple[date, Decimal]], day: date) -> Decimal | None:
    index = bisect_right(closes, day, key=lambda item: item[0])
    return closes[index - 1][1] if index else None


def equity_at_close_before(*, account: Account, day: date) -> Decimal | None:
    """Equity at the end of the last day before `day` with a balance row, marked as in
    `portfolio_history` (Alpaca's `last_equity`); None for an account with no earlier day."""
    row = daily_balances(account=account).filter(date__lt=day).order_by("-date").first()
    if row is None:
        return None
    return Decimal(portfolio_history(account=account, start=row.date, end=row.date)["equity_exact"][0])


def portfolio_history(*, account: Account, start: date | None = None, end: date | None = None) -> dict[str, Any]:
    """Daily portfolio history in Alpaca's PortfolioHistory shape, from end-of-day balances.

    Equity is cash plus the positions held at the end of each day, marked at that day's close (the
    last persisted daily bar on or before it; today's bar is kept current by the quote store). A
    day on which some held symbol has no close yet is valued at cost basis instead, all of it, so a
    point is never half marked. Profit/loss is measured against the first day's equity net of later
    deposits and withdrawals.
    """
    from apps.marketdata.selectors import daily_closes

    rows = list(daily_balances(account=account, start=start, end=end))
    holdings = holdings_by_day(account=account, end=rows[-1].date) if rows else []
    symbols = sorted({symbol for _, held in holdings for symbol in held})
    closes = daily_closes(symbols=symbols, end=rows[-1].date) if symbols else {}

    def positions_value(row: DailyBalance) -> Decimal:
        index = bisect_right(holdings, row.date, key=lambda item: item[0])
        held = holdings[index - 1][1] if index else {}
        value = Decimal("0")
        for symbol, qty in held.items():
            close = _close_on_or_before(closes.get(symbol, []), row.date)
            if close is None:
                return row.positions_cost
            value += qty * close
        return value

    values = [row.cash + positions_value(row) for row in rows]
    timestamps: list[int] = []
    equity: list[float] = []
    profit_loss: list[float] = []
    profit_loss_pct: list[float | None] = []
    base = None
    net_flows = Decimal("0")
    for row, value in zip(rows, values, strict=True):
        if base is None:
            base = value
        else:
            net_flows += row.deposits + row.withdrawals
        pnl = value - base - net_flows
        timestamps.append(int(_midnight_utc(row.date)))
        equity.append(float(value))
        profit_loss.append(float(pnl))
        profit_loss_pct.append(float(pnl / base) if base else None)
    return {
        "timestamp": timestamps,
        "equity": equity,
        "profit_loss": profit_loss,
        "profit_loss_pct": profit_loss_pct,
        "base_value": float(base) if base is not None else 0.0,
        "timeframe": "1D",
        "cashflow": {},
        # Exact figures as strings for clients that must not lose precision.
        "equity_exact": [str(value) for value in values],
    }


def _midnight_utc(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
