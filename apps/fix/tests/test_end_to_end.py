"""End to end through every real component: order services -> outbox row -> outbox relay ->
Kafka orders.commands -> FIX gateway -> QuickFIX order session -> exchange simulator -> 35=8 ->
execution_apply -> order status, journal, balances and positions in PostgreSQL.

Each test creates its own account and scopes every assertion to it (the database is committed to).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from apps.fix.selectors import fix_trail_for_order
from apps.fix.tests.conftest import Specs, endpoint, wait_for
from apps.fix.tests.venue_process import start_venue
from apps.ledger.selectors import cash_balances, position_get
from apps.ledger.services import deposit
from apps.ledger.verify import ledger_verify
from apps.ops.clients import redis_client
from apps.orders.models import Order
from apps.orders.services import order_cancel_request, order_place, order_replace
from tests.factories import AccountFactory, InstrumentFactory, UserFactory
from workers.fix_gateway import GatewayWorker
from workers.outbox_relay import OutboxRelay

# Committed database access (see apps/orders/tests/conftest.py): threads see what services commit.
pytestmark = pytest.mark.usefixtures("committed_db")

TRADED = ["FIXA", "FIXB"]
NOT_AT_VENUE = "FIXZ"
FUNDS = Decimal("100000")


class Stack:
    def __init__(self, venue: Any, worker: GatewayWorker, sender: str) -> None:
        self.venue = venue  # the control handle of the venue process (venue_process.VenueHandle)
        self.worker = worker
        self.sender = sender

    def fair(self, symbol: str) -> Decimal:
        return self.venue.fair(symbol)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    specs = Specs()
    for symbol in [*TRADED, NOT_AT_VENUE]:
        InstrumentFactory(symbol=symbol)
    process = start_venue(symbols=TRADED, seed=5, order_spec=specs.order, md_spec=specs.md,
                          store_dir=tmp_path / "venue", md_interval=0.5)
    venue = process.handle
    venue.open_books(TRADED)
    for symbol in [*TRADED, NOT_AT_VENUE]:
        # The quote store would hold this from the ingestor; the collar on market orders needs it.
        price = venue.fair(symbol) if symbol in TRADED else Decimal("50")
        redis_client().hset(f"quote:{symbol}", mapping={"bid": str(price), "ask": str(price), "last": str(price)})
    relay = OutboxRelay(name="outbox-fix-test")
    worker = GatewayWorker(spec=specs.order, endpoint=endpoint(tmp_path / "gateway"),
                           group_id=f"fix-gateway-test-{uuid.uuid4().hex[:8]}", assign_partitions=True)
    stop = threading.Event()

    def closing(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            finally:
                connections.close_all()
        return run

    threads = [threading.Thread(target=closing(relay.run), daemon=True),
               threading.Thread(target=closing(lambda: worker.run(stop=stop)), daemon=True)]
    for thread in threads:
        thread.start()
    wait_for(worker.gateway.logged_on.is_set, what="gateway logon")
    yield Stack(venue, worker, specs.sender)
    stop.set()
    relay.stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "gateway or relay did not stop"
    process.close()
    for symbol in [*TRADED, NOT_AT_VENUE]:
        redis_client().delete(f"quote:{symbol}")


def status_of(order: Order) -> str:
    return Order.objects.values_list("status", flat=True).get(id=order.id)


def wait_status(order: Order, *wanted: str, timeout: float = 30) -> Order:
    wait_for(lambda: status_of(order) in wanted, timeout=timeout, what=f"order {order.id} in {wanted}",
             detail=lambda: status_of(order))
    return Order.objects.get(id=order.id)


@pytest.fixture
def account():
    account = AccountFactory()
    deposit(account=account, amount=FUNDS, reference="fix e2e funding")
    return account


def test_market_and_limit_orders_fill_cancel_and_replace(stack: Stack, account, tmp_path: Path, settings,
                                                          client) -> None:
    buy = order_place(account=account, symbol="FIXA", side="buy", type="market", time_in_force="day", qty="25")
    filled = wait_status(buy, "filled")
    avg_price = filled.filled_avg_price
    assert filled.filled_qty == Decimal(25) and avg_price is not None and avg_price > 0
    assert filled.exchange_order_id
    cost = (filled.filled_qty * avg_price).quantize(Decimal("0.01"))
    position = position_get(account=account, symbol="FIXA")
    assert position is not None and position.qty == Decimal(25)
    cash = cash_balances(account=account)
    assert cash.held == 0 and abs(cash.available - (FUNDS - cost)) <= Decimal("0.01")

    # Sell part of it back with a marketable limit: fills against the market maker's bids.
    sell_limit = (stack.fair("FIXA") * Decimal("0.95")).quantize(Decimal("0.01"))
    sell = order_place(account=account, symbol="FIXA", side="sell", type="limit", time_in_force="day",
                       qty="10", limit_price=sell_limit)
    wait_status(sell, "filled")
    assert position_get(account=account, symbol="FIXA").qty == Decimal(15)

    # A limit far below the market rests; cancel it; the hold comes back in full.
    before = cash_balances(account=account)
    low = (stack.fair("FIXB") * Decimal("0.5")).quantize(Decimal("0.01"))
    resting = order_place(account=account, symbol="FIXB", side="buy", type="limit", time_in_force="gtc",
                          qty="10", limit_price=low)
    wait_status(resting, "new")
    assert cash_balances(account=account).held == Decimal(10) * low
    order_cancel_request(account=account, order_id=resting.id)
    wait_status(resting, "canceled")
    assert cash_balances(account=account) == before

    # Replace a resting limit: the old order ends replaced, the new one is live at the venue.
    resting = order_place(account=account, symbol="FIXB", side="buy", type="limit", time_in_force="gtc",
                          qty="10", limit_price=low)
    wait_status(resting, "new")
    replacement = order_replace(account=account, order_id=resting.id, qty="12", limit_price=str(low - 1))
    wait_status(resting, "replaced")
    live = wait_status(replacement, "new")
    assert live.qty == Decimal(12)
    venue_order = stack.venue.resting_order(str(replacement.id))
    assert venue_order["qty"] == Decimal(12) and venue_order["limit_price"] == low - 1
    assert cash_balances(account=account).held == Decimal(12) * (low - 1)
    report = ledger_verify(account_id=account.id)
    assert report.ok, report.problems

    # The FIX trail of the market order, as compliance reads it in the admin.
    trail = fix_trail_for_order(order_id=buy.id, log_dir=tmp_path / "gateway" / "log")
    kinds = [e.msg_type.split()[0] for e in trail]
    assert kinds[0] == "D" and kinds.count("8") >= 2 and set(kinds) <= {"D", "8"}
    assert trail[-1].fields["OrdStatus"] == "2" and trail[0].sender == stack.sender
    settings.FIX_STORE_DIR = tmp_path
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(f"/admin/fix/orderfixtrail/{buy.id}/change/")
    assert page.status_code == 200
    assert f"11={buy.id}" in page.content.decode() and "ExecutionReport" in page.content.decode()


@pytest.mark.parametrize("case", ["unknown_symbol", "reject_switch"])
def test_venue_rejections_release_the_hold(stack: Stack, account, case: str) -> None:
    symbol = NOT_AT_VENUE if case == "unknown_symbol" else "FIXA"
    if case == "reject_switch":
        stack.venue.set_switches(reject_ratio=1.0)
    before = cash_balances(account=account)
    order = order_place(account=account, symbol=symbol, side="buy", type="limit", time_in_force="day",
                        qty="3", limit_price="40.00")
    assert cash_balances(account=account).held == Decimal("120.00")
    rejected = wait_status(order, "rejected")
    expected = "unknown symbol" if case == "unknown_symbol" else "reject switch"
    assert expected in rejected.reject_reason
    assert cash_balances(account=account) == before
    assert position_get(account=account, symbol=symbol) is None
    assert ledger_verify(account_id=account.id).ok


def test_commands_replayed_from_kafka_are_not_sent_twice(stack: Stack, account) -> None:
    orders = [order_place(account=account, symbol="FIXA", side="buy", type="market", time_in_force="day", qty="1")
              for _ in range(5)]
    for order in orders:
        wait_status(order, "filled")
    accepted = stack.venue.accepted()
    assert [accepted.get(str(o.id), 0) for o in orders] == [1] * 5
    assert position_get(account=account, symbol="FIXA").qty == Decimal(5)
