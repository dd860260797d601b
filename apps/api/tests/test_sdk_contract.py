"""Contract test: the pinned, unmodified alpaca-py SDK against our app served by uvicorn.

Everything is real: uvicorn + brokerage.asgi, PostgreSQL, Redis (quotes, rate limits, channel
layer), the Kafka-protocol broker (outbox relay -> orders.updates -> order-updates fanout worker
-> channel layer -> /stream). The only stand-in is the venue: fills and acknowledgements are applied
with apps.orders.services.execution_apply and an ExecutionReport, the very service the FIX gateway
calls, so the test does not depend on the exchange simulator. Activities are projected by calling
the ledger projector's projection_apply on the committed ledger outbox envelopes (what the projector
worker consumes from ledger.events).
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import AssetStatus, OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.models import NonTradeActivity, Order, PortfolioHistory, TradeActivity, TradeUpdate
from alpaca.trading.requests import (
    ClosePositionRequest,
    CreateWatchlistRequest,
    GetAssetsRequest,
    GetCalendarRequest,
    GetOrdersRequest,
    GetPortfolioHistoryRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopOrderRequest,
    UpdateWatchlistRequest,
)
from alpaca.trading.stream import TradingStream
from django.conf import settings

from apps.ledger.projections import projection_apply
from apps.ledger.services import deposit
from apps.orders.services import execution_apply
from apps.orders.types import ExecutionReport
from apps.outbox.models import OutboxMessage
from tests.factories import InstrumentFactory
from workers.fanout import order_updates_run

from .conftest import Customer, committed_customer, run_committed
from .live import asgi_server, outbox_relay_thread, worker_thread
from .test_trading import publish_quote

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

SYMBOL = "SDKA"


@pytest.fixture(scope="module")
def live(django_db_setup: None, django_db_blocker: Any) -> Iterator[tuple[str, Customer]]:
    with django_db_blocker.unblock():
        run_committed(lambda: InstrumentFactory(symbol=SYMBOL, tick_size=Decimal("0.01")))
        publish_quote(SYMBOL, "99.99", "100.01", "100.00")
        customer = committed_customer("sdk")
        run_committed(lambda: deposit(account=customer.account, amount=Decimal("100000"), reference="funding"))
        with asgi_server() as address, outbox_relay_thread(), worker_thread(order_updates_run):
            yield address, customer


def _venue(order_id: str, exec_type: str, *, qty: str = "0", price: str = "0") -> None:
    """What the FIX gateway does on a 35=8 from the venue."""
    run_committed(lambda: execution_apply(report=ExecutionReport(
        order_id=uuid.UUID(order_id), exec_id=str(uuid.uuid4()), exec_type=exec_type,  # type: ignore[arg-type]
        last_qty=Decimal(qty), last_price=Decimal(price), cum_qty=Decimal(qty), leaves_qty=Decimal("0"),
        avg_price=Decimal(price))))


class StreamListener:
    def __init__(self, address: str, customer: Customer) -> None:
        self.updates: queue.Queue[TradeUpdate] = queue.Queue()
        self.stream = TradingStream(customer.api_key.key_id, customer.secret, paper=True,
                                    url_override=f"ws://{address}/stream")

        async def on_update(update: TradeUpdate) -> None:
            self.updates.put(update)

        self.stream.subscribe_trade_updates(on_update)
        self.thread = threading.Thread(target=self.stream.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.stream._running:  # set once authenticated and listening
            assert time.monotonic() < deadline, "TradingStream did not connect"
            time.sleep(0.05)
        time.sleep(0.3)

    def wait_for(self, order_id: str, event: str, timeout: float = 30) -> TradeUpdate:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {event} update for {order_id}"
            update = self.updates.get(timeout=remaining)
            if str(update.order.id) == order_id and update.event == event:
                return update

    def stop(self) -> None:
        self.stream.stop()
        self.thread.join(timeout=10)


def test_alpaca_py_trading_client_and_stream(live: tuple[str, Customer]) -> None:
    address, customer = live
    client = TradingClient(customer.api_key.key_id, customer.secret, paper=True, url_override=f"http://{address}")
    listener = StreamListener(address, customer)
    try:
        account = client.get_account()
        assert account.account_number == customer.account.account_number  # type: ignore[union-attr]
        assert Decimal(account.buying_power) == Decimal("100000")  # type: ignore[union-attr,arg-type]

        market = client.submit_order(MarketOrderRequest(symbol=SYMBOL, qty=10, side=OrderSide.BUY,
                                                        time_in_force=TimeInForce.DAY, client_order_id="sdk-mkt"))
        assert isinstance(market, Order) and market.status == "pending_new"
        limit = client.submit_order(LimitOrderRequest(symbol=SYMBOL, qty=2, side=OrderSide.BUY,
                                                      time_in_force=TimeInForce.GTC, limit_price=99.5))
        stop = client.submit_order(StopOrderRequest(symbol=SYMBOL, qty=1, side=OrderSide.BUY,
                                                    time_in_force=TimeInForce.DAY, stop_price=101))
        assert isinstance(limit, Order) and isinstance(stop, Order)
        assert Decimal(str(client.get_order_by_id(limit.id).limit_price)) == Decimal("99.5")  # type: ignore[union-attr]
        assert client.get_order_by_client_id("sdk-mkt").id == market.id  # type: ignore[union-attr]
        listed = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))
        assert {o.id for o in listed} >= {market.id, limit.id, stop.id}  # type: ignore[union-attr]

        # The venue acknowledges the limit order; then it can be replaced.
        _venue(str(limit.id), "new")
        replacement = client.replace_order_by_id(limit.id, ReplaceOrderRequest(qty=3, limit_price=99.0))
        assert isinstance(replacement, Order) and str(replacement.replaces) == str(limit.id)

        client.cancel_order_by_id(stop.id)
        assert client.get_order_by_id(stop.id).status == "pending_cancel"  # type: ignore[union-attr]

        # The market order fills; the stream delivers the fill of the order this client placed.
        _venue(str(market.id), "fill", qty="10", price="100.00")
        fill = listener.wait_for(str(market.id), "fill")
        assert fill.order.status == "filled" and fill.qty == 10 and fill.price == 100.0
        assert fill.execution_id is not None

        positions = client.get_all_positions()
        assert [p.symbol for p in positions] == [SYMBOL]  # type: ignore[union-attr]
        position = client.get_open_position(SYMBOL)
        assert position.qty == "10" and position.avg_entry_price == "100"  # type: ignore[union-attr]
        closing = client.close_position(SYMBOL, ClosePositionRequest(qty="4"))
        assert isinstance(closing, Order) and closing.side == OrderSide.SELL and Decimal(str(closing.qty)) == 4

        canceled = client.cancel_orders()
        assert {str(r.id) for r in canceled} >= {str(replacement.id), str(closing.id)}  # type: ignore[union-attr]
        with pytest.raises(APIError) as missing:
            client.get_order_by_id(uuid.uuid4())
        assert missing.value.status_code == 404 and missing.value.code == 40410000

        watchlist = client.create_watchlist(CreateWatchlistRequest(name="sdk", symbols=[SYMBOL]))
        assert [a.symbol for a in watchlist.assets] == [SYMBOL]  # type: ignore[union-attr]
        assert [w.id for w in client.get_watchlists()] == [watchlist.id]  # type: ignore[union-attr]
        renamed = client.update_watchlist_by_id(watchlist.id, UpdateWatchlistRequest(name="sdk2"))  # type: ignore[union-attr]
        assert renamed.name == "sdk2"  # type: ignore[union-attr]
        emptied = client.remove_asset_from_watchlist_by_id(watchlist.id, SYMBOL)  # type: ignore[union-attr]
        assert emptied.assets == []  # type: ignore[union-attr]
        again = client.add_asset_to_watchlist_by_id(watchlist.id, SYMBOL)  # type: ignore[union-attr]
        assert [a.symbol for a in again.assets] == [SYMBOL]  # type: ignore[union-attr]
        assert client.get_watchlist_by_id(watchlist.id).name == "sdk2"  # type: ignore[union-attr]
        client.delete_watchlist_by_id(watchlist.id)  # type: ignore[union-attr]
        assert client.get_watchlists() == []

        clock = client.get_clock()
        assert clock.next_close > clock.timestamp  # type: ignore[union-attr]
        days = client.get_calendar(GetCalendarRequest(start=dt.date(2025, 12, 22), end=dt.date(2025, 12, 26)))
        assert [d.date for d in days] == [dt.date(2025, 12, 22), dt.date(2025, 12, 23), dt.date(2025, 12, 24),
                                          dt.date(2025, 12, 26)]  # type: ignore[union-attr]
        assets = client.get_all_assets(GetAssetsRequest(status=AssetStatus.ACTIVE))
        assert SYMBOL in {a.symbol for a in assets}  # type: ignore[union-attr]
        assert client.get_asset(SYMBOL).symbol == SYMBOL  # type: ignore[union-attr]

        # Activities: the projector's service applied to the committed ledger events of this account.
        def project() -> None:
            rows = OutboxMessage.objects.filter(topic=settings.TOPIC_LEDGER_EVENTS,
                                                account_id=customer.account.id).order_by("id")
            for row in rows:
                projection_apply(envelope=row.envelope())

        run_committed(project)
        raw = client.get("/account/activities")
        assert isinstance(raw, list) and raw
        parsed = [TradeActivity(**a) if a["activity_type"] == "FILL" else NonTradeActivity(**a) for a in raw]
        assert any(isinstance(a, TradeActivity) and a.symbol == SYMBOL for a in parsed)
        history = client.get_portfolio_history(GetPortfolioHistoryRequest(period="1M", timeframe="1D"))
        assert isinstance(history, PortfolioHistory)
    finally:
        listener.stop()
