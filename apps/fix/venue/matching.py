"""The venue's matching engine: one limit order book per symbol with price-time priority.

Pure Python and deterministic (no clock, no I/O) so that it is unit-tested on its own; the FIX
acceptor in apps/fix/venue/acceptor.py turns its events into execution reports.

Semantics:
- market orders match at any price; what cannot fill at once is canceled (never rests);
- limit orders match up to their limit, the remainder rests unless the time in force is ioc
  (remainder canceled) or fok (all or nothing, checked before any fill);
- stop / stop-limit orders wait off-book until the last trade price reaches the stop
  (buy: last >= stop, sell: last <= stop), then enter as market / limit orders with fresh time
  priority;
- a replace that raises the quantity or changes the price loses time priority;
- `expire_day()` expires every resting or waiting day order (the venue's end of day).
"""

from __future__ import annotations

import bisect
import itertools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

ZERO = Decimal("0")


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class OrderState(StrEnum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"
    WAITING_TRIGGER = "waiting_trigger"  # a stop order not yet triggered (FIX OrdStatus stays New)


TERMINAL_STATES = {OrderState.FILLED, OrderState.CANCELED, OrderState.EXPIRED, OrderState.REJECTED}


class EventKind(StrEnum):
    ACCEPTED = "accepted"
    FILL = "fill"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REPLACED = "replaced"
    REJECTED = "rejected"
    TRIGGERED = "triggered"


class RejectReason(StrEnum):
    INVALID_QUANTITY = "invalid quantity"
    INVALID_PRICE = "invalid price"
    UNKNOWN_ORDER = "unknown order"
    TOO_LATE = "order already final"
    QUANTITY_BELOW_FILLED = "new quantity not above filled quantity"
    INVALID_REPLACE = "replace must keep side and type"


class OrderRejected(ValueError):
    def __init__(self, reason: RejectReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(eq=False)
class BookOrder:
    """An order as the venue holds it. `order_id` is the venue's id (FIX OrderID, tag 37)."""

    order_id: str
    client_order_id: str
    owner: str
    symbol: str
    side: Side
    type: OrderType
    time_in_force: TimeInForce
    qty: Decimal
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    filled_qty: Decimal = ZERO
    filled_notional: Decimal = ZERO
    state: OrderState = OrderState.NEW
    priority: int = 0
    account: str = ""  # the member's account (FIX tag 1), echoed on reports

    @property
    def leaves_qty(self) -> Decimal:
        if self.state in TERMINAL_STATES:
            return ZERO
        return self.qty - self.filled_qty

    @property
    def avg_price(self) -> Decimal:
        return (self.filled_notional / self.filled_qty).quantize(Decimal("0.0001")) if self.filled_qty else ZERO

    @property
    def is_final(self) -> bool:
        return self.state in TERMINAL_STATES

    def _fill(self, qty: Decimal, price: Decimal) -> None:
        self.filled_qty += qty
        self.filled_notional += qty * price
        self.state = OrderState.FILLED if self.filled_qty >= self.qty else OrderState.PARTIALLY_FILLED


@dataclass(frozen=True)
class Trade:
    symbol: str
    price: Decimal
    qty: Decimal
    aggressor: Side
    buy_order_id: str
    sell_order_id: str


@dataclass(frozen=True)
class Event:
    """Something that happened to one order; the acceptor sends one execution report per event."""

    kind: EventKind
    order: BookOrder
    last_qty: Decimal = ZERO
    last_price: Decimal = ZERO
    reason: str = ""
    previous_client_order_id: str = ""  # on REPLACED
    # The order as it stood when this happened (reports must not show later fills).
    state: OrderState = OrderState.NEW
    cum_qty: Decimal = ZERO
    leaves_qty: Decimal = ZERO
    avg_price: Decimal = ZERO


def _event(kind: EventKind, order: BookOrder, **extra: Any) -> Event:
    return Event(kind, order, state=order.state, cum_qty=order.filled_qty, leaves_qty=order.leaves_qty,
                 avg_price=order.avg_price, **extra)


@dataclass
class _Level:
    price: Decimal
    orders: deque[BookOrder] = field(default_factory=deque)

    @property
    def qty(self) -> Decimal:
        return sum((o.leaves_qty for o in self.orders), ZERO)


class _SideBook:
    """Price levels of one side; `prices` is ascending, the best bid is last, the best ask first."""

    def __init__(self, side: Side) -> None:
        self.side = side
        self.prices: list[Decimal] = []
        self.levels: dict[Decimal, _Level] = {}

    def best_price(self) -> Decimal | None:
        if not self.prices:
            return None
        return self.prices[-1] if self.side is Side.BUY else self.prices[0]

    def add(self, order: BookOrder) -> None:
        price = _limit(order)
        level = self.levels.get(price)
        if level is None:
            level = self.levels[price] = _Level(price)
            bisect.insort(self.prices, price)
        level.orders.append(order)

    def remove(self, order: BookOrder) -> bool:
        level = self.levels.get(_limit(order))
        if level is None or order not in level.orders:
            return False
        level.orders.remove(order)
        if not level.orders:
            self._drop_level(level.price)
        return True

    def _drop_level(self, price: Decimal) -> None:
        del self.levels[price]
        index = bisect.bisect_left(self.prices, price)
        del self.prices[index]

    def levels_best_first(self) -> Iterator[_Level]:
        ordered = reversed(self.prices) if self.side is Side.BUY else iter(self.prices)
        for price in list(ordered):
            level = self.levels.get(price)
            if level is not None:
                yield level

    def depth(self, levels: int) -> list[tuple[Decimal, Decimal]]:
        out = []
        for level in self.levels_best_first():
            out.append((level.price, level.qty))
            if len(out) == levels:
                break
        return out


def _limit(order: BookOrder) -> Decimal:
    if order.limit_price is None:
        raise ValueError(f"order {order.order_id} has no limit price to rest at")
    return order.limit_price


def _crosses(taker: BookOrder, level_price: Decimal) -> bool:
    if taker.type is OrderType.MARKET or taker.limit_price is None:
        return True
    if taker.side is Side.BUY:
        return level_price <= taker.limit_price
    return level_price >= taker.limit_price


class OrderBook:
    """The book of one symbol. Every mutating call returns the events it caused, in order."""

    def __init__(self, symbol: str, *, id_prefix: str = "") -> None:
        self.symbol = symbol
        self.bids = _SideBook(Side.BUY)
        self.asks = _SideBook(Side.SELL)
        self.stops: list[BookOrder] = []
        self.last_price: Decimal | None = None
        self.trades: list[Trade] = []  # drained by the owner (market data)
        self._priority = itertools.count(1)
        self._ids = itertools.count(1)
        self._id_prefix = id_prefix or symbol

    # --- queries ------------------------------------------------------------------------------
    def best_bid(self) -> Decimal | None:
        return self.bids.best_price()

    def best_ask(self) -> Decimal | None:
        return self.asks.best_price()

    def depth(self, levels: int = 5) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        return self.bids.depth(levels), self.asks.depth(levels)

    def resting_orders(self) -> Iterator[BookOrder]:
        for book in (self.bids, self.asks):
            for level in book.levels_best_first():
                yield from level.orders

    # --- commands -----------------------------------------------------------------------------
    def new_order_id(self) -> str:
        return f"{self._id_prefix}-{next(self._ids)}"

    def submit(self, order: BookOrder) -> list[Event]:
        """Accept a new order and match it. Invalid orders raise OrderRejected (nothing changes)."""
        self._validate(order)
        if not order.order_id:
            order.order_id = self.new_order_id()
        order.priority = next(self._priority)
        events = [_event(EventKind.ACCEPTED, order)]
        if order.type in (OrderType.STOP, OrderType.STOP_LIMIT):
            order.state = OrderState.WAITING_TRIGGER
            self.stops.append(order)
            return events
        events.extend(self._match_and_rest(order))
        events.extend(self._trigger_stops())
        return events

    def cancel(self, order: BookOrder, *, reason: str = "") -> list[Event]:
        if order.is_final:
            raise OrderRejected(RejectReason.TOO_LATE)
        self._unlink(order)
        order.state = OrderState.CANCELED
        return [_event(EventKind.CANCELED, order, reason=reason)]

    def replace(
        self,
        order: BookOrder,
        *,
        new_client_order_id: str,
        qty: Decimal,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
        time_in_force: TimeInForce | None = None,
    ) -> list[Event]:
        """Change quantity / prices. Raising the quantity or changing a price loses priority."""
        if order.is_final:
            raise OrderRejected(RejectReason.TOO_LATE)
        if qty <= order.filled_qty:
            raise OrderRejected(RejectReason.QUANTITY_BELOW_FILLED)
        probe = BookOrder(
            order_id=order.order_id, client_order_id=new_client_order_id, owner=order.owner,
            symbol=order.symbol, side=order.side, type=order.type,
            time_in_force=time_in_force or order.time_in_force, qty=qty,
            limit_price=limit_price, stop_price=stop_price,
        )
        self._validate(probe)
        keeps_priority = (
            qty <= order.qty and limit_price == order.limit_price and stop_price == order.stop_price
        )
        waiting = order.state is OrderState.WAITING_TRIGGER
        self._unlink(order)
        previous = order.client_order_id
        order.client_order_id = new_client_order_id
        order.qty = qty
        order.limit_price = limit_price
        order.stop_price = stop_price
        order.time_in_force = probe.time_in_force
        if not keeps_priority:
            order.priority = next(self._priority)
        events = [_event(EventKind.REPLACED, order, previous_client_order_id=previous)]
        if waiting:
            self.stops.append(order)
            self.stops.sort(key=lambda o: o.priority)
            events.extend(self._trigger_stops())
            return events
        if keeps_priority:
            # Same price, smaller quantity: stays where it was in the queue.
            book = self.bids if order.side is Side.BUY else self.asks
            book.add(order)
            level = book.levels[_limit(order)]
            level.orders = deque(sorted(level.orders, key=lambda o: o.priority))
            return events
        events.extend(self._match_and_rest(order))
        events.extend(self._trigger_stops())
        return events

    def expire_day(self) -> list[Event]:
        events = []
        for order in [*self.resting_orders(), *self.stops]:
            if order.time_in_force is TimeInForce.DAY and not order.is_final:
                self._unlink(order)
                order.state = OrderState.EXPIRED
                events.append(_event(EventKind.EXPIRED, order, reason="end of day"))
        return events

    def reference_price_update(self, price: Decimal) -> list[Event]:
        """The venue's reference price moved (market maker's fair price): stops may trigger."""
        self.last_price = price
        return self._trigger_stops()

    # --- internals ----------------------------------------------------------------------------
    def _validate(self, order: BookOrder) -> None:
        if order.qty <= ZERO:
            raise OrderRejected(RejectReason.INVALID_QUANTITY)
        needs_limit = order.type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_stop = order.type in (OrderType.STOP, OrderType.STOP_LIMIT)
        if needs_limit and (order.limit_price is None or order.limit_price <= ZERO):
            raise OrderRejected(RejectReason.INVALID_PRICE)
        if needs_stop and (order.stop_price is None or order.stop_price <= ZERO):
            raise OrderRejected(RejectReason.INVALID_PRICE)
        if not needs_limit:
            order.limit_price = None

    def _unlink(self, order: BookOrder) -> None:
        if order in self.stops:
            self.stops.remove(order)
        elif order.limit_price is not None and order.type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            (self.bids if order.side is Side.BUY else self.asks).remove(order)

    def _available(self, taker: BookOrder) -> Decimal:
        opposite = self.asks if taker.side is Side.BUY else self.bids
        total = ZERO
        for level in opposite.levels_best_first():
            if not _crosses(taker, level.price):
                break
            total += level.qty
            if total >= taker.leaves_qty:
                break
        return total

    def _match_and_rest(self, taker: BookOrder) -> list[Event]:
        events: list[Event] = []
        if taker.time_in_force is TimeInForce.FOK and self._available(taker) < taker.leaves_qty:
            taker.state = OrderState.CANCELED
            return [_event(EventKind.CANCELED, taker, reason="fok: not enough liquidity")]
        opposite = self.asks if taker.side is Side.BUY else self.bids
        for level in opposite.levels_best_first():
            if taker.leaves_qty <= ZERO or not _crosses(taker, level.price):
                break
            while level.orders and taker.leaves_qty > ZERO:
                maker = level.orders[0]
                qty = min(taker.leaves_qty, maker.leaves_qty)
                price = level.price
                maker._fill(qty, price)
                taker._fill(qty, price)
                if maker.leaves_qty <= ZERO:
                    level.orders.popleft()
                buy, sell = (taker, maker) if taker.side is Side.BUY else (maker, taker)
                self.trades.append(Trade(self.symbol, price, qty, taker.side, buy.order_id, sell.order_id))
                self.last_price = price
                events.append(_event(EventKind.FILL, maker, last_qty=qty, last_price=price))
                events.append(_event(EventKind.FILL, taker, last_qty=qty, last_price=price))
            if not level.orders:
                opposite._drop_level(level.price)
        if taker.leaves_qty > ZERO:
            if taker.type is OrderType.MARKET or taker.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
                taker.state = OrderState.CANCELED
                why = "market order: no more liquidity" if taker.type is OrderType.MARKET else "ioc remainder"
                events.append(_event(EventKind.CANCELED, taker, reason=why))
            else:
                (self.bids if taker.side is Side.BUY else self.asks).add(taker)
        return events

    def _trigger_stops(self) -> list[Event]:
        events: list[Event] = []
        while True:
            triggered = next((o for o in self.stops if self._stop_reached(o)), None)
            if triggered is None:
                return events
            self.stops.remove(triggered)
            triggered.state = (
                OrderState.PARTIALLY_FILLED if triggered.filled_qty > ZERO else OrderState.NEW
            )
            triggered.type = OrderType.MARKET if triggered.type is OrderType.STOP else OrderType.LIMIT
            triggered.priority = next(self._priority)
            events.append(_event(EventKind.TRIGGERED, triggered))
            events.extend(self._match_and_rest(triggered))

    def _stop_reached(self, order: BookOrder) -> bool:
        if self.last_price is None or order.stop_price is None:
            return False
        if order.side is Side.BUY:
            return self.last_price >= order.stop_price
        return self.last_price <= order.stop_price
