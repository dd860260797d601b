"""Liquidity for the simulated venue: a market maker quoting around a random-walk fair price.

Each symbol gets a deterministic start price derived from its name (so a given symbol always
starts at the same level across runs) and its own seeded random generator, so a run with the same
seed produces the same path. The maker quotes `levels` price levels each side, a spread of a few
basis points (never under one tick), and sizes in round lots; every requote replaces its previous
orders in the book, so customer orders that the new quotes cross trade against the maker.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from apps.fix.venue.matching import BookOrder, Event, OrderBook, OrderType, Side, TimeInForce

MARKET_MAKER = "market-maker"
TICK = Decimal("0.01")


def start_price(symbol: str) -> Decimal:
    """A stable, plausible start price in [5, 505) for `symbol`."""
    return (Decimal(zlib.crc32(symbol.encode()) % 50_000) / 100 + 5).quantize(TICK)


@dataclass
class MarketMaker:
    symbol: str
    seed: int = 2026
    levels: int = 5
    volatility: float = 0.0004  # per step, relative (~6% daily over a few thousand steps)
    spread_bps: float = 4.0
    fair: Decimal = Decimal("0")
    _rng: random.Random = field(init=False, repr=False)
    _orders: list[BookOrder] = field(default_factory=list, init=False, repr=False)
    _ids: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(f"{self.seed}:{self.symbol}")  # noqa: S311 - simulation, not crypto
        if not self.fair:
            self.fair = start_price(self.symbol)

    def step(self) -> Decimal:
        """Move the fair price one random-walk step (log-normal, floored at one dollar)."""
        shock = self._rng.gauss(0.0, self.volatility)
        moved = Decimal(str(float(self.fair) * math.exp(shock))).quantize(TICK)
        self.fair = max(moved, Decimal("1.00"))
        return self.fair

    def quotes(self) -> list[tuple[Side, Decimal, Decimal]]:
        half_spread = max(TICK, (self.fair * Decimal(self.spread_bps) / Decimal(20_000)).quantize(TICK))
        best_bid = (self.fair - half_spread).quantize(TICK, rounding=ROUND_DOWN)
        best_ask = (self.fair + half_spread).quantize(TICK, rounding=ROUND_UP)
        out = []
        for level in range(self.levels):
            step = TICK * level * max(1, int(self.fair / 100))
            out.append((Side.BUY, best_bid - step, Decimal(100 * self._rng.randint(1, 10))))
            out.append((Side.SELL, best_ask + step, Decimal(100 * self._rng.randint(1, 10))))
        return out

    def requote(self, book: OrderBook) -> list[Event]:
        """Pull the previous quotes and post new ones; returns the book's events (customer fills)."""
        events: list[Event] = []
        for previous in self._orders:
            if not previous.is_final:
                book.cancel(previous)
        self._orders = []
        events.extend(book.reference_price_update(self.fair))
        for side, price, qty in self.quotes():
            if price <= 0:
                continue
            self._ids += 1
            quote = BookOrder(
                order_id="", client_order_id=f"mm-{self.symbol}-{self._ids}", owner=MARKET_MAKER,
                symbol=self.symbol, side=side, type=OrderType.LIMIT, time_in_force=TimeInForce.GTC,
                qty=qty, limit_price=price,
            )
            events.extend(book.submit(quote))
            self._orders.append(quote)
        return events
