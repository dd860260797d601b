"""Property-based test of the trading core: random sequences of deposits, withdrawals, buy and sell
orders (limit and market), acknowledgements, cancels, partial fills and retries run against the
real services and PostgreSQL, and against a small in-memory model of what the customer owns.

The model is deliberately simpler than the services: a buy reserves `open qty x reserved price`
(the limit, or the last price plus the collar for a market buy), a fill pays `qty x price` out of
the customer's total cash, and a sell reserves its open shares. After every step the materialized
balances must equal the model, never be negative, and the journal must replay to them
(apps.ledger.verify.ledger_verify scoped to the account: zero-sum, hash chain, balances, positions).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import ROUND_UP, Decimal
from typing import Any

import pytest
from django.conf import settings as django_settings
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from apps.ledger.errors import InsufficientFunds
from apps.ledger.models import LedgerAccount, Position
from apps.ledger.services import deposit, withdraw
from apps.ledger.verify import ledger_verify
from apps.orders.errors import DuplicateClientOrderId, InsufficientBuyingPower, InsufficientShares
from apps.orders.models import Order, OrderEvent
from apps.orders.services import execution_apply, order_cancel_request, order_place
from apps.orders.types import ExecutionReport
from apps.outbox.models import OutboxMessage

from .conftest import unique_account

pytestmark = pytest.mark.django_db

SYMBOL = "XYZ"
LAST = Decimal("10.00")
ZERO = Decimal("0")
OPEN = {"pending_new", "new", "partially_filled", "pending_cancel"}


def model_sale_fees(qty: Decimal, proceeds: Decimal) -> Decimal:
    """What a sale costs in regulatory fees: SEC fee on the proceeds plus FINRA TAF per share
    (capped), each rounded up to the cent, never more than the proceeds."""
    cent = Decimal("0.01")
    sec = (proceeds * django_settings.ORDER_FEE_SEC_RATE).quantize(cent, rounding=ROUND_UP)
    taf = min((qty * django_settings.ORDER_FEE_TAF_PER_SHARE).quantize(cent, rounding=ROUND_UP),
              django_settings.ORDER_FEE_TAF_MAX)
    return min(sec + taf, proceeds)

cents = st.integers(min_value=1, max_value=50_000).map(lambda c: Decimal(c) / 100)
quantities = st.integers(min_value=1, max_value=20).map(Decimal)
limit_prices = st.integers(min_value=950, max_value=1050).map(lambda c: Decimal(c) / 100)


@dataclass
class ModelOrder:
    id: uuid.UUID
    client_order_id: str
    request: dict[str, Any]
    side: str
    qty: Decimal
    reserved_price: Decimal  # buys: cash reserved per open share
    filled: Decimal = ZERO
    status: str = "pending_new"
    exec_seq: int = 0

    @property
    def open_qty(self) -> Decimal:
        return self.qty - self.filled


@dataclass
class Model:
    cash_available: Decimal = ZERO
    cash_held: Decimal = ZERO
    shares_available: Decimal = ZERO
    shares_held: Decimal = ZERO
    position_cost: Decimal = ZERO  # cost basis, to check the average entry price
    orders: dict[uuid.UUID, ModelOrder] = field(default_factory=dict)
    applied_reports: list[ExecutionReport] = field(default_factory=list)


class TradingCore(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.account = unique_account()

    # --- money ------------------------------------------------------------------------------------

    @initialize(amount=cents)
    def first_deposit(self, amount: Decimal) -> None:
        self.deposit(amount)

    @rule(amount=cents)
    def deposit(self, amount: Decimal) -> None:
        deposit(account=self.account, amount=amount, reference="property test")
        self.model.cash_available += amount

    @rule(amount=cents)
    def withdraw(self, amount: Decimal) -> None:
        if amount > self.model.cash_available:
            with pytest.raises(InsufficientFunds):
                withdraw(account=self.account, amount=amount)
            return
        withdraw(account=self.account, amount=amount)
        self.model.cash_available -= amount

    # --- orders -----------------------------------------------------------------------------------

    def _place(self, request: dict[str, Any], *, side: str, qty: Decimal, reserved_price: Decimal) -> None:
        client_order_id = f"prop-{uuid.uuid4()}"
        if side == "buy" and qty * reserved_price > self.model.cash_available:
            with pytest.raises(InsufficientBuyingPower):
                order_place(account=self.account, client_order_id=client_order_id, **request)
            return
        if side == "sell" and qty > self.model.shares_available:
            with pytest.raises(InsufficientShares):
                order_place(account=self.account, client_order_id=client_order_id, **request)
            return
        order = order_place(account=self.account, client_order_id=client_order_id, **request)
        assert order.status == "pending_new"
        self.model.orders[order.id] = ModelOrder(id=order.id, client_order_id=client_order_id, request=request,
                                                 side=side, qty=qty, reserved_price=reserved_price)
        if side == "buy":
            self.model.cash_available -= qty * reserved_price
            self.model.cash_held += qty * reserved_price
        else:
            self.model.shares_available -= qty
            self.model.shares_held += qty

    @rule(qty=quantities, limit=limit_prices)
    def buy_limit(self, qty: Decimal, limit: Decimal) -> None:
        self._place({"symbol": SYMBOL, "side": "buy", "type": "limit", "time_in_force": "gtc", "qty": qty,
                     "limit_price": limit}, side="buy", qty=qty, reserved_price=limit)

    @rule(qty=quantities)
    def buy_market(self, qty: Decimal) -> None:
        collared = LAST * (1 + Decimal(django_settings.ORDER_PRICE_COLLAR))
        self._place({"symbol": SYMBOL, "side": "buy", "type": "market", "time_in_force": "day", "qty": qty},
                    side="buy", qty=qty, reserved_price=collared)

    @rule(qty=quantities, limit=limit_prices)
    def sell_limit(self, qty: Decimal, limit: Decimal) -> None:
        self._place({"symbol": SYMBOL, "side": "sell", "type": "limit", "time_in_force": "day", "qty": qty,
                     "limit_price": limit}, side="sell", qty=qty, reserved_price=ZERO)

    @rule(qty=quantities)
    def sell_market(self, qty: Decimal) -> None:
        self._place({"symbol": SYMBOL, "side": "sell", "type": "market", "time_in_force": "day", "qty": qty},
                    side="sell", qty=qty, reserved_price=ZERO)

    def _pick(self, data: st.DataObject, statuses: set[str]) -> ModelOrder:
        # Placement order (not the random UUIDs), so that hypothesis can replay and shrink a run.
        candidates = [o for o in self.model.orders.values() if o.status in statuses]
        return data.draw(st.sampled_from(candidates))

    def _has(self, statuses: set[str]) -> bool:
        return any(o.status in statuses for o in self.model.orders.values())

    @precondition(lambda self: bool(self.model.orders))
    @rule(data=st.data())
    def resubmit_same_client_order_id(self, data: st.DataObject) -> None:
        order = self._pick(data, set(OPEN) | {"filled", "canceled"})
        again = order_place(account=self.account, client_order_id=order.client_order_id, **order.request)
        assert again.id == order.id

    @precondition(lambda self: bool(self.model.orders))
    @rule(data=st.data())
    def resubmit_different_payload(self, data: st.DataObject) -> None:
        order = self._pick(data, set(OPEN) | {"filled", "canceled"})
        changed = {**order.request, "qty": order.qty + 1}
        with pytest.raises(DuplicateClientOrderId):
            order_place(account=self.account, client_order_id=order.client_order_id, **changed)

    @precondition(lambda self: self._has({"pending_new"}))
    @rule(data=st.data())
    def venue_accepts(self, data: st.DataObject) -> None:
        order = self._pick(data, {"pending_new"})
        self._report(order, exec_type="new")
        order.status = "new"

    @precondition(lambda self: self._has({"pending_new", "new", "partially_filled"}))
    @rule(data=st.data())
    def cancel_request(self, data: st.DataObject) -> None:
        order = self._pick(data, {"pending_new", "new", "partially_filled"})
        result = order_cancel_request(account=self.account, order_id=order.id)
        assert result.status == "pending_cancel"
        order.status = "pending_cancel"

    @precondition(lambda self: self._has({"pending_cancel"}))
    @rule(data=st.data())
    def venue_confirms_cancel(self, data: st.DataObject) -> None:
        order = self._pick(data, {"pending_cancel"})
        self._report(order, exec_type="canceled", leaves_qty=ZERO, cum_qty=order.filled)
        if order.side == "buy":
            released = order.open_qty * order.reserved_price
            self.model.cash_held -= released
            self.model.cash_available += released
        else:
            self.model.shares_held -= order.open_qty
            self.model.shares_available += order.open_qty
        order.status = "canceled"

    @precondition(lambda self: self._has({"pending_new", "new", "partially_filled", "pending_cancel"}))
    @rule(data=st.data())
    def venue_fills(self, data: st.DataObject) -> None:
        order = self._pick(data, {"pending_new", "new", "partially_filled", "pending_cancel"})
        qty = Decimal(data.draw(st.integers(min_value=1, max_value=int(order.open_qty)), label="fill qty"))
        if order.side == "buy":
            # Never above what was reserved per share: the venue honours the limit and the collar.
            price_cents = data.draw(st.integers(min_value=900, max_value=int(order.reserved_price * 100)),
                                    label="buy price cents")
        else:
            price_cents = data.draw(st.integers(min_value=900, max_value=1100), label="sell price cents")
        price = Decimal(price_cents) / 100
        complete = qty == order.open_qty
        self._report(order, exec_type="fill" if complete else "partial_fill", last_qty=qty, last_price=price,
                     cum_qty=order.filled + qty, leaves_qty=order.open_qty - qty)
        cost = qty * price
        if order.side == "buy":
            self.model.cash_held -= qty * order.reserved_price
            self.model.cash_available += qty * order.reserved_price - cost
            self.model.shares_available += qty
            self.model.position_cost += cost
        else:
            position_qty = self.model.shares_available + self.model.shares_held
            self.model.position_cost -= (self.model.position_cost / position_qty * qty)
            self.model.shares_held -= qty
            self.model.cash_available += cost - model_sale_fees(qty, cost)
        order.filled += qty
        if complete:
            order.status = "filled"
        elif order.status != "pending_cancel":
            order.status = "partially_filled"

    @precondition(lambda self: bool(self.model.applied_reports))
    @rule(data=st.data())
    def venue_resends_a_report(self, data: st.DataObject) -> None:
        """At-least-once delivery from the venue: the same exec_id again changes nothing."""
        report = data.draw(st.sampled_from(self.model.applied_reports))
        execution_apply(report=report)

    def _report(self, order: ModelOrder, *, exec_type: Any, **figures: Any) -> None:
        order.exec_seq += 1
        report = ExecutionReport(order_id=order.id, exec_id=f"{order.id}-{order.exec_seq}", exec_type=exec_type,
                                 **figures)
        execution_apply(report=report)
        self.model.applied_reports.append(report)

    # --- invariants -------------------------------------------------------------------------------

    @invariant()
    def balances_equal_the_model_and_the_journal(self) -> None:
        model = self.model
        balances = dict(LedgerAccount.objects.filter(account=self.account).values_list("code", "balance"))
        actual = {
            "cash.available": balances.get("cash.available", ZERO),
            "cash.held": balances.get("cash.held", ZERO),
            "shares.available": balances.get(f"securities.{SYMBOL}.available", ZERO),
            "shares.held": balances.get(f"securities.{SYMBOL}.held", ZERO),
        }
        expected = {"cash.available": model.cash_available, "cash.held": model.cash_held,
                    "shares.available": model.shares_available, "shares.held": model.shares_held}
        assert actual == expected
        assert all(value >= 0 for value in balances.values()), balances
        report = ledger_verify(account_id=self.account.id)
        assert report.ok, report.problems

    @invariant()
    def orders_equal_the_model(self) -> None:
        stored = {row[0]: row[1:] for row in
                  Order.objects.filter(account=self.account).values_list("id", "status", "filled_qty")}
        assert stored == {o.id: (o.status, o.filled) for o in self.model.orders.values()}
        # One PlaceOrder command per accepted order, whatever the retries.
        commands = OutboxMessage.objects.filter(account_id=self.account.id, type="PlaceOrder").count()
        assert commands == len(self.model.orders)
        seqs = list(OrderEvent.objects.filter(account=self.account).order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, len(seqs) + 1))

    @invariant()
    def position_equals_the_model(self) -> None:
        position = Position.objects.filter(account=self.account, symbol=SYMBOL).first()
        qty = self.model.shares_available + self.model.shares_held
        assert (position.qty if position else ZERO) == qty
        if position is not None and qty:
            assert abs(position.cost_basis - self.model.position_cost) <= Decimal("0.0001") * (1 + qty)


def test_trading_core_state_machine(instrument):
    run_state_machine_as_test(TradingCore, settings=settings(
        max_examples=25, stateful_step_count=30, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
