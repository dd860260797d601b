"""Portfolio history and last equity mark the positions of each day at that day's close."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from unittest import mock

import pytest

from apps.ledger.models import DailyBalance
from apps.ledger.projections import projection_apply
from apps.ledger.selectors import equity_at_close_before, holdings_by_day, portfolio_history
from apps.ledger.services import deposit
from apps.marketdata.models import DailyBar
from apps.orders.services import execution_apply, order_place
from apps.orders.types import ExecutionReport
from apps.outbox.models import OutboxMessage
from tests.factories import AccountFactory, InstrumentFactory

pytestmark = pytest.mark.django_db

DAY1, DAY2, DAY3 = dt.date(2026, 11, 18), dt.date(2026, 11, 19), dt.date(2026, 11, 20)


def at(day: dt.date) -> mock._patch:
    moment = dt.datetime(day.year, day.month, day.day, 15, 0, tzinfo=dt.UTC)
    return mock.patch("django.utils.timezone.now", return_value=moment)


def project(account) -> None:
    """What the ledger projector does with the account's JournalPosted events."""
    for row in OutboxMessage.objects.filter(type="JournalPosted", key=str(account.id)).order_by("id"):
        projection_apply(envelope=row.envelope())


def bar(symbol: str, day: dt.date, close: str) -> None:
    DailyBar.objects.create(symbol=symbol, date=day, open=close, high=close, low=close, close=close, volume=1000,
                            trade_count=1, vwap=close)


@pytest.fixture
def history_account():
    symbol = f"PH{uuid.uuid4().hex[:4].upper()}"
    InstrumentFactory(symbol=symbol, tick_size=Decimal("0.01"), lot_size=Decimal("1"))
    account = AccountFactory()
    with at(DAY1):
        deposit(account=account, amount=Decimal("10000"), reference="funding")
    with at(DAY2):
        order = order_place(account=account, symbol=symbol, side="buy", type="limit", time_in_force="day",
                            qty=Decimal("10"), limit_price=Decimal("100.00"))
        execution_apply(report=ExecutionReport(order_id=order.id, exec_id=f"ack-{order.id}", exec_type="new"))
        execution_apply(report=ExecutionReport(
            order_id=order.id, exec_id=f"fill-{order.id}", exec_type="fill", last_qty=Decimal("10"),
            last_price=Decimal("100.00"), cum_qty=Decimal("10"), leaves_qty=Decimal("0")))
    with at(DAY3):
        deposit(account=account, amount=Decimal("100"), reference="top-up")
    project(account)
    return account, symbol


def test_each_day_is_cash_plus_positions_at_that_days_close(history_account) -> None:
    account, symbol = history_account
    assert list(DailyBalance.objects.filter(account=account).values_list("date", flat=True)) == [DAY1, DAY2, DAY3]
    assert holdings_by_day(account=account) == [(DAY2, {symbol: Decimal("10")})]
    bar(symbol, DAY2, "110.00")
    bar(symbol, DAY3, "120.00")

    history = portfolio_history(account=account)

    # 10,000 cash; then 9,000 + 10 x 110; then 9,100 + 10 x 120.
    assert [Decimal(v) for v in history["equity_exact"]] == [Decimal("10000"), Decimal("10100"), Decimal("10300")]
    assert history["equity"] == [10000.0, 10100.0, 10300.0]
    # Against the first day, net of the later deposit.
    assert history["profit_loss"] == [0.0, 100.0, 200.0]
    assert history["base_value"] == 10000.0


def test_a_day_without_a_close_is_valued_at_cost_and_a_later_close_carries_forward(history_account) -> None:
    account, symbol = history_account
    bar(symbol, DAY2, "105.00")  # no bar on DAY3: DAY2's close is the last one

    history = portfolio_history(account=account)

    assert [Decimal(v) for v in history["equity_exact"]] == [Decimal("10000"), Decimal("10050"), Decimal("10150")]
    DailyBar.objects.filter(symbol=symbol).delete()
    cost_only = portfolio_history(account=account)
    assert [Decimal(v) for v in cost_only["equity_exact"]] == [Decimal("10000"), Decimal("10000"), Decimal("10100")]


def test_last_equity_is_the_previous_days_marked_equity(history_account) -> None:
    account, symbol = history_account
    bar(symbol, DAY3, "120.00")

    assert equity_at_close_before(account=account, day=DAY3 + dt.timedelta(days=1)) == Decimal("10300")
    # Before DAY3's row: DAY2, whose only close on or before it does not exist yet -> cost.
    assert equity_at_close_before(account=account, day=DAY3) == Decimal("10000")
    assert equity_at_close_before(account=account, day=DAY1) is None
