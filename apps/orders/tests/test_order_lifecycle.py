"""Order placement, fills, cancels and replaces through the service layer against real PostgreSQL."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from apps.ledger.selectors import cash_balances, position_get, shares_available
from apps.orders.errors import (
    DuplicateClientOrderId,
    IllegalTransition,
    InstrumentNotTradable,
    InsufficientBuyingPower,
    InsufficientShares,
    InvalidQuantity,
    NoReferencePrice,
    PriceOffTick,
)
from apps.orders.models import Order, OrderEvent
from apps.orders.presenters import order_to_alpaca
from apps.orders.services import execution_apply, order_cancel_request, order_place, order_replace
from apps.orders.types import ExecutionReport
from apps.outbox.models import OutboxMessage

pytestmark = pytest.mark.django_db


def _fill(order, qty, price, *, exec_type="fill", leaves="0", exec_id=None):
    return execution_apply(report=ExecutionReport(
        order_id=order.id, exec_id=exec_id or str(uuid.uuid4()), exec_type=exec_type,
        last_qty=Decimal(qty), last_price=Decimal(price), cum_qty=Decimal(qty), leaves_qty=Decimal(leaves)))


def test_limit_buy_holds_then_fill_below_limit_returns_difference(funded_account, instrument):
    order = order_place(account=funded_account, symbol="XYZ", side="buy", type="limit", time_in_force="day",
                        qty=Decimal("10"), limit_price=Decimal("10.00"))
    assert order.status == "pending_new"
    assert cash_balances(account=funded_account) == cash_balances(account=funded_account)
    balances = cash_balances(account=funded_account)
    assert balances.available == Decimal("900") and balances.held == Decimal("100")
    assert OutboxMessage.objects.filter(type="PlaceOrder", payload__order_id=str(order.id)).count() == 1

    execution_apply(report=ExecutionReport(order_id=order.id, exec_id="ack-1", exec_type="new"))
    order.refresh_from_db()
    assert order.status == "new"

    order = _fill(order, "4", "9.50", exec_type="partial_fill", leaves="6", exec_id="f1")
    assert order.status == "partially_filled"
    balances = cash_balances(account=funded_account)
    # 4 x 9.50 = 38 paid; the 4 x 0.50 price improvement came back at once.
    assert balances.held == Decimal("60") and balances.available == Decimal("902")
    again = _fill(order, "4", "9.50", exec_type="partial_fill", leaves="6", exec_id="f1")
    assert again.filled_qty == Decimal("4"), "the same exec_id must apply once"

    order = _fill(order, "6", "10.00", exec_id="f2")
    assert order.status == "filled" and order.filled_qty == Decimal("10")
    assert order.filled_avg_price == Decimal("9.8")
    balances = cash_balances(account=funded_account)
    assert balances.held == 0 and balances.available == Decimal("902")
    position = position_get(account=funded_account, symbol="XYZ")
    assert position is not None and position.qty == Decimal("10") and position.avg_entry_price == Decimal("9.8")
    events = list(OrderEvent.objects.filter(account=funded_account).values_list("seq", "event"))
    assert events == [(1, "pending_new"), (2, "new"), (3, "partial_fill"), (4, "fill")]
    assert OutboxMessage.objects.filter(type="OrderUpdated", account_id=funded_account.id).count() == 4


def test_sell_holds_shares_and_realizes_pnl(funded_account, instrument):
    buy = order_place(account=funded_account, symbol="XYZ", side="buy", type="market", time_in_force="day", qty="5")
    _fill(buy, "5", "10.00")
    with pytest.raises(InsufficientShares):
        order_place(account=funded_account, symbol="XYZ", side="sell", type="limit", time_in_force="gtc",
                    qty="6", limit_price="10.00")
    sell = order_place(account=funded_account, symbol="XYZ", side="sell", type="limit", time_in_force="gtc",
                       qty="5", limit_price="10.20")
    assert shares_available(account=funded_account, symbol="XYZ") == 0
    _fill(sell, "5", "10.40")
    balances = cash_balances(account=funded_account)
    # Proceeds $52.00 less the regulatory fees: SEC 52 x 0.0000278 and TAF 5 x 0.000166, a cent each.
    assert balances.available == Decimal("1000") - Decimal("50") + Decimal("52") - Decimal("0.02")
    assert balances.held == 0
    assert position_get(account=funded_account, symbol="XYZ") is None


def test_denials_change_nothing(funded_account, instrument):
    before = (cash_balances(account=funded_account), Order.objects.count(), OutboxMessage.objects.count())
    with pytest.raises(InsufficientBuyingPower):
        order_place(account=funded_account, symbol="XYZ", side="buy", type="limit", time_in_force="day",
                    qty="101", limit_price="10.00")
    with pytest.raises(PriceOffTick):
        order_place(account=funded_account, symbol="XYZ", side="buy", type="limit", time_in_force="day",
                    qty="1", limit_price="10.001")
    with pytest.raises(InvalidQuantity):
        order_place(account=funded_account, symbol="XYZ", side="buy", type="limit", time_in_force="day",
                    qty="1.5", limit_price="10.00")
    with pytest.raises(InstrumentNotTradable):
        order_place(account=funded_account, symbol="NOPE", side="buy", type="market", time_in_force="day", qty="1")
    with pytest.raises(NoReferencePrice):
        from tests.factories import InstrumentFactory
        InstrumentFactory(symbol="NOQ")
        order_place(account=funded_account, symbol="NOQ", side="buy", type="market", time_in_force="day", qty="1")
    after = (cash_balances(account=funded_account), Order.objects.count(), OutboxMessage.objects.count())
    assert before == after


def test_client_order_id_retry_returns_original_and_conflict_is_refused(funded_account, instrument):
    first = order_place(account=funded_account, symbol="XYZ", side="buy", type="limit", time_in_force="day",
                        qty="1", limit_price="10.00", client_order_id="abc")
    again = order_place(account=funded_account, symbol="XYZ", side="buy", type="limit", time_in_force="day",
                        qty="1", limit_price="10.00", client_order_id="abc")
    assert again.id == first.id
    with pytest.raises(DuplicateClientOrderId):
        order_place(account=funded_account, symbol="XYZ", side="buy", type="limit", time_in_force="day",
                    qty="2", limit_price="10.00", client_order_id="abc")
    assert cash_balances(account=funded_account).held == Decimal("10")


def test_cancel_releases_hold_only_on_venue_confirmation(funded_account, instrument):
    order = order_place(account=funded_account, symbol="XYZ", side="buy", type="limit", time_in_force="gtc",
                        qty="10", limit_price="9.00")
    order = order_cancel_request(account=funded_account, order_id=order.id)
    assert order.status == "pending_cancel"
    assert OutboxMessage.objects.filter(type="CancelOrder", payload__order_id=str(order.id)).count() == 1
    assert cash_balances(account=funded_account).held == Decimal("90")
    execution_apply(report=ExecutionReport(order_id=order.id, exec_id="c1", exec_type="canceled"))
    order.refresh_from_db()
    assert order.status == "canceled" and order.canceled_at is not None
    assert cash_balances(account=funded_account) .held == 0
    with pytest.raises(IllegalTransition):
        order_cancel_request(account=funded_account, order_id=order.id)


def test_replace_links_orders_and_moves_the_hold(funded_account, instrument):
    old = order_place(account=funded_account, symbol="XYZ", side="buy", type="limit", time_in_force="gtc",
                      qty="10", limit_price="9.00")
    execution_apply(report=ExecutionReport(order_id=old.id, exec_id="n1", exec_type="new"))
    new = order_replace(account=funded_account, order_id=old.id, qty="20", limit_price="9.50")
    assert new.replaces_id == old.id and new.status == "pending_new"
    assert cash_balances(account=funded_account).held == Decimal("190")
    execution_apply(report=ExecutionReport(order_id=new.id, orig_order_id=old.id, exec_id="r1",
                                           exec_type="replaced"))
    old.refresh_from_db()
    new.refresh_from_db()
    assert old.status == "replaced" and old.replaced_by_id == new.id and new.status == "new"
    body = order_to_alpaca(old)
    assert body["replaced_by"] == str(new.id) and body["status"] == "replaced"


def test_rejected_releases_hold_and_stores_reason(funded_account, instrument):
    order = order_place(account=funded_account, symbol="XYZ", side="buy", type="market", time_in_force="day",
                        qty="10")
    # Market buy hold: 10 x 10.00 x (1 + 5% collar).
    assert cash_balances(account=funded_account).held == Decimal("105")
    execution_apply(report=ExecutionReport(order_id=order.id, exec_id="rj", exec_type="rejected",
                                           reject_reason="venue closed"))
    order.refresh_from_db()
    assert order.status == "rejected" and order.reject_reason == "venue closed"
    assert cash_balances(account=funded_account).held == 0
    assert cash_balances(account=funded_account).available == Decimal("1000")


def test_presenter_parses_with_alpaca_sdk(funded_account, instrument):
    from alpaca.trading.models import Order as AlpacaOrder

    order = order_place(account=funded_account, symbol="XYZ", side="buy", type="limit", time_in_force="day",
                        qty="3", limit_price="9.99")
    parsed = AlpacaOrder(**order_to_alpaca(order))
    assert str(parsed.id) == str(order.id) and parsed.qty == "3" and parsed.limit_price == "9.99"
    assert parsed.status.value == "pending_new"
