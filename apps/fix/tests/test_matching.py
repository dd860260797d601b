"""Unit tests of the venue's matching engine (pure Python, no services needed)."""

from __future__ import annotations

import itertools
import random
from decimal import Decimal as D

import pytest

from apps.fix.venue.matching import (
    BookOrder,
    EventKind,
    OrderBook,
    OrderRejected,
    OrderState,
    OrderType,
    Side,
    TimeInForce,
)

_ids = itertools.count(1)


def order(side, qty, price=None, *, type=OrderType.LIMIT, tif=TimeInForce.DAY, stop=None, owner="c"):
    n = next(_ids)
    return BookOrder(
        order_id="", client_order_id=f"cl{n}", owner=owner, symbol="XYZ", side=Side(side), type=type,
        time_in_force=tif, qty=D(qty), limit_price=D(price) if price else None,
        stop_price=D(stop) if stop else None,
    )


def fills_of(events, o):
    return [(e.last_qty, e.last_price) for e in events if e.kind is EventKind.FILL and e.order is o]


def test_price_time_priority_best_price_first_then_earliest():
    book = OrderBook("XYZ")
    late_better = order("sell", 10, "10.01")
    first = order("sell", 10, "10.02")
    second = order("sell", 10, "10.02")
    for o in (first, second, late_better):
        book.submit(o)
    taker = order("buy", 25, "10.02")
    events = book.submit(taker)
    assert fills_of(events, late_better) == [(D(10), D("10.01"))]
    assert fills_of(events, first) == [(D(10), D("10.02"))]
    assert fills_of(events, second) == [(D(5), D("10.02"))]
    assert taker.state is OrderState.FILLED
    assert taker.avg_price == D("10.0160")
    assert second.state is OrderState.PARTIALLY_FILLED and second.leaves_qty == D(5)
    assert book.depth() == ([], [(D("10.02"), D(5))])


def test_partial_fill_rests_remainder_at_limit():
    book = OrderBook("XYZ")
    maker = order("sell", 30, "50.00")
    book.submit(maker)
    taker = order("buy", 100, "50.10")
    events = book.submit(taker)
    assert fills_of(events, taker) == [(D(30), D("50.00"))]
    assert taker.state is OrderState.PARTIALLY_FILLED and taker.leaves_qty == D(70)
    assert book.best_bid() == D("50.10") and book.best_ask() is None
    assert [(t.price, t.qty, t.aggressor) for t in book.trades] == [(D("50.00"), D(30), Side.BUY)]


def test_limit_does_not_trade_through_its_price():
    book = OrderBook("XYZ")
    book.submit(order("sell", 10, "20.05"))
    taker = order("buy", 10, "20.04")
    events = book.submit(taker)
    assert [e.kind for e in events] == [EventKind.ACCEPTED]
    assert book.depth() == ([(D("20.04"), D(10))], [(D("20.05"), D(10))])


def test_market_order_sweeps_levels_and_cancels_unfilled_rest():
    book = OrderBook("XYZ")
    book.submit(order("buy", 5, "9.99"))
    book.submit(order("buy", 5, "9.98"))
    taker = order("sell", 12, type=OrderType.MARKET)
    events = book.submit(taker)
    assert fills_of(events, taker) == [(D(5), D("9.99")), (D(5), D("9.98"))]
    assert events[-1].kind is EventKind.CANCELED and events[-1].order is taker
    assert taker.state is OrderState.CANCELED and taker.filled_qty == D(10)
    assert book.depth() == ([], [])


def test_ioc_fills_what_it_can_and_cancels_the_rest_without_resting():
    book = OrderBook("XYZ")
    book.submit(order("sell", 4, "1.00"))
    taker = order("buy", 10, "1.00", tif=TimeInForce.IOC)
    events = book.submit(taker)
    assert fills_of(events, taker) == [(D(4), D("1.00"))]
    assert taker.state is OrderState.CANCELED and taker.filled_qty == D(4)
    assert book.best_bid() is None


def test_fok_is_all_or_nothing():
    book = OrderBook("XYZ")
    makers = [order("sell", 4, "1.00"), order("sell", 4, "1.01")]
    for m in makers:
        book.submit(m)
    too_big = order("buy", 10, "1.01", tif=TimeInForce.FOK)
    events = book.submit(too_big)
    assert fills_of(events, too_big) == [] and too_big.state is OrderState.CANCELED
    assert all(m.filled_qty == 0 for m in makers)
    fits = order("buy", 8, "1.01", tif=TimeInForce.FOK)
    events = book.submit(fits)
    assert fits.state is OrderState.FILLED and sum(q for q, _ in fills_of(events, fits)) == D(8)
    # Liquidity beyond the limit price does not count.
    book.submit(order("sell", 10, "1.05"))
    limited = order("buy", 5, "1.04", tif=TimeInForce.FOK)
    book.submit(limited)
    assert limited.state is OrderState.CANCELED and limited.filled_qty == 0


def test_stop_waits_then_triggers_on_trade_price_as_market():
    book = OrderBook("XYZ")
    stop = order("buy", 5, type=OrderType.STOP, stop="10.50")
    assert [e.kind for e in book.submit(stop)] == [EventKind.ACCEPTED]
    assert stop.state is OrderState.WAITING_TRIGGER
    book.submit(order("sell", 1, "10.40"))
    book.submit(order("sell", 20, "10.60"))
    events = book.submit(order("buy", 1, "10.40"))  # prints 10.40: below the stop
    assert stop.state is OrderState.WAITING_TRIGGER and not fills_of(events, stop)
    book.submit(order("sell", 1, "10.50"))
    events = book.submit(order("buy", 1, "10.50"))  # prints 10.50: triggers
    kinds = [e.kind for e in events if e.order is stop]
    assert kinds[0] is EventKind.TRIGGERED
    assert fills_of(events, stop) == [(D(5), D("10.60"))]
    assert stop.state is OrderState.FILLED


def test_sell_stop_limit_triggers_below_and_rests_at_limit():
    book = OrderBook("XYZ")
    stop = order("sell", 10, "9.50", type=OrderType.STOP_LIMIT, stop="9.60")
    book.submit(stop)
    assert book.reference_price_update(D("9.70")) == []
    events = book.reference_price_update(D("9.55"))
    assert [e.kind for e in events] == [EventKind.TRIGGERED]
    assert stop.state is OrderState.NEW and book.best_ask() == D("9.50")


def test_cancel_removes_from_book_and_final_orders_cannot_be_canceled():
    book = OrderBook("XYZ")
    resting = order("buy", 10, "5.00")
    book.submit(resting)
    assert [e.kind for e in book.cancel(resting)] == [EventKind.CANCELED]
    assert book.best_bid() is None
    with pytest.raises(OrderRejected):
        book.cancel(resting)


def test_replace_down_keeps_priority_and_price_change_loses_it():
    book = OrderBook("XYZ")
    a, b = order("sell", 10, "3.00"), order("sell", 10, "3.00")
    book.submit(a)
    book.submit(b)
    book.replace(a, new_client_order_id="a2", qty=D(6), limit_price=D("3.00"), stop_price=None)
    events = book.submit(order("buy", 6, "3.00"))
    assert fills_of(events, a) == [(D(6), D("3.00"))] and a.client_order_id == "a2"
    c = order("sell", 10, "3.00")
    book.submit(c)
    book.replace(b, new_client_order_id="b2", qty=D(10), limit_price=D("3.01"), stop_price=None)
    book.replace(b, new_client_order_id="b3", qty=D(10), limit_price=D("3.00"), stop_price=None)
    events = book.submit(order("buy", 10, "3.00"))
    assert fills_of(events, c) == [(D(10), D("3.00"))] and fills_of(events, b) == []


def test_replace_crossing_price_matches_and_below_filled_is_rejected():
    book = OrderBook("XYZ")
    book.submit(order("sell", 5, "7.00"))
    bid = order("buy", 10, "6.90")
    book.submit(bid)
    events = book.replace(bid, new_client_order_id="x", qty=D(10), limit_price=D("7.00"), stop_price=None)
    assert [e.kind for e in events][:2] == [EventKind.REPLACED, EventKind.FILL]
    assert bid.filled_qty == D(5)
    with pytest.raises(OrderRejected):
        book.replace(bid, new_client_order_id="y", qty=D(5), limit_price=D("7.00"), stop_price=None)
    assert bid.qty == D(10) and bid.client_order_id == "x"


def test_invalid_orders_are_rejected_without_touching_the_book():
    book = OrderBook("XYZ")
    for bad in (order("buy", 0, "1.00"), order("buy", 1, type=OrderType.LIMIT),
                order("sell", 1, type=OrderType.STOP)):
        with pytest.raises(OrderRejected):
            book.submit(bad)
    assert book.depth() == ([], []) and book.stops == []


def test_expire_day_expires_day_orders_only():
    book = OrderBook("XYZ")
    day, gtc = order("buy", 1, "1.00"), order("buy", 1, "1.01", tif=TimeInForce.GTC)
    day_stop = order("sell", 1, type=OrderType.STOP, stop="0.50")
    for o in (day, gtc, day_stop):
        book.submit(o)
    events = book.expire_day()
    assert {e.order for e in events} == {day, day_stop}
    assert all(e.kind is EventKind.EXPIRED for e in events)
    assert book.depth() == ([(D("1.01"), D(1))], []) and book.stops == []


def test_random_flow_conserves_quantity_and_never_leaves_a_crossed_book():
    rng = random.Random(7)
    book = OrderBook("XYZ")
    orders = []
    for _ in range(2000):
        side = rng.choice(["buy", "sell"])
        kind = rng.random()
        if kind < 0.1:
            o = order(side, rng.randint(1, 50), type=OrderType.MARKET)
        else:
            tif = rng.choice([TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK])
            o = order(side, rng.randint(1, 50), f"{rng.randint(990, 1010) / 100:.2f}", tif=tif)
        book.submit(o)
        orders.append(o)
        resting = [r for r in orders if r.state in (OrderState.NEW, OrderState.PARTIALLY_FILLED)]
        if resting and rng.random() < 0.05:
            book.cancel(rng.choice(resting))
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid < ask
    bought = sum(o.filled_qty for o in orders if o.side is Side.BUY)
    sold = sum(o.filled_qty for o in orders if o.side is Side.SELL)
    assert bought == sold == sum(t.qty for t in book.trades)
    for o in orders:
        assert D(0) <= o.filled_qty <= o.qty
    resting_qty = sum(o.leaves_qty for o in book.resting_orders())
    assert resting_qty == sum(q for _, q in book.bids.depth(10**6)) + sum(q for _, q in book.asks.depth(10**6))
