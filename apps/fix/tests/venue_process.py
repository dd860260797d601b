"""The exchange simulator in a child process, driven from the test through a control connection.

QuickFIX's `Acceptor::stop()` occasionally crashes (SIGSEGV) when it tears sessions down while an
initiator of the same process is still about: both engines share QuickFIX's process-wide session
registry. A venue in its own process, as in production (`make run` starts it as its own worker),
keeps that teardown out of the pytest process. The child runs the real `ExchangeSimulator`; the
test asks it questions and flips its switches through a `multiprocessing` manager (a local
socket), so nothing about the venue is mocked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import os
from decimal import Decimal
from multiprocessing.managers import BaseManager
from pathlib import Path
from typing import Any

from apps.fix.sessions import Endpoint, SessionSpec


def _child_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.test")
    import django

    django.setup()


class VenueHandle:
    """Lives in the child: owns one running exchange simulator and answers the test's questions."""

    def __init__(
        self,
        *,
        symbols: list[str],
        seed: int,
        order_spec: SessionSpec,
        md_spec: SessionSpec,
        endpoint: Endpoint,
        md_interval: float,
        per_interval: int,
    ) -> None:
        from apps.fix.venue.acceptor import ExchangeSimulator, Venue

        self.simulator = ExchangeSimulator(
            venue=Venue(symbols=symbols, seed=seed),
            order_spec=order_spec,
            md_spec=md_spec,
            endpoint=endpoint,
            md_interval=md_interval,
            md_symbols_per_interval=per_interval,
        )
        self.simulator.start()

    # --- market state -------------------------------------------------------------------------
    def open_books(self, symbols: list[str]) -> None:
        """Create the books (and their market makers' quotes) now rather than on first order."""
        venue = self.simulator.venue
        with venue.lock:
            for symbol in symbols:
                venue.book(symbol)

    def fair(self, symbol: str) -> Decimal:
        venue = self.simulator.venue
        with venue.lock:
            venue.book(symbol)
            return venue.makers[symbol].fair

    def top_of_book(self, symbol: str) -> tuple[Decimal | None, Decimal | None]:
        venue = self.simulator.venue
        with venue.lock:
            book = venue.book(symbol)
            return book.best_bid(), book.best_ask()

    def customer_order(self, *, symbol: str, side: str, qty: str) -> None:
        """A market order of another member of the venue (not through any FIX session)."""
        from apps.fix.venue.matching import BookOrder, OrderType, Side, TimeInForce

        venue = self.simulator.venue
        with venue.lock:
            venue.book(symbol).submit(
                BookOrder(
                    order_id="",
                    client_order_id=f"member-{side}-{qty}",
                    owner="another-member",
                    symbol=symbol,
                    side=Side(side),
                    type=OrderType.MARKET,
                    time_in_force=TimeInForce.DAY,
                    qty=Decimal(qty),
                )
            )

    # --- orders the venue received ------------------------------------------------------------
    def accepted(self) -> dict[str, int]:
        """ClOrdID -> how many times a NewOrderSingle with it was accepted."""
        venue = self.simulator.venue
        with venue.lock:
            return dict(venue.accepted)

    def resting_order(self, cl_ord_id: str) -> dict[str, Any] | None:
        venue = self.simulator.venue
        with venue.lock:
            for (_, known), order in venue.registry.items():
                if known == cl_ord_id:
                    return {"qty": order.qty, "limit_price": order.limit_price, "state": order.state.value}
        return None

    # --- switches and the clock ---------------------------------------------------------------
    def set_switches(self, **values: Any) -> None:
        switches = self.simulator.application.switches
        for name, value in values.items():
            if not hasattr(switches, name):
                raise AttributeError(f"no venue switch {name!r}")
            setattr(switches, name, value)

    def drop_sessions(self, refuse_seconds: float) -> None:
        self.simulator.application.drop_sessions(refuse_seconds=refuse_seconds)

    def set_trading_day(self, day: str) -> None:
        self.simulator.venue.trading_day = day

    def expire_if_new_day(self) -> int:
        return self.simulator.application.expire_if_new_day(dt.datetime.now(dt.UTC))

    def stop(self) -> None:
        self.simulator.stop()


class _Manager(BaseManager):
    pass


_Manager.register("VenueHandle", VenueHandle)


class VenueProcess:
    """Starts the child and hands out the proxy; `close()` stops the venue and ends the child."""

    def __init__(self, **kwargs: Any) -> None:
        self.manager = _Manager(ctx=multiprocessing.get_context("spawn"))
        self.manager.start(initializer=_child_setup)
        self.handle: Any = self.manager.VenueHandle(**kwargs)  # type: ignore[attr-defined]

    def close(self) -> None:
        # Whatever QuickFIX does while it tears down happens in the child; a crash there is the
        # child's end, never the test run's.
        with contextlib.suppress(Exception):
            self.handle.stop()
        with contextlib.suppress(Exception):
            self.manager.shutdown()
        process = getattr(self.manager, "_process", None)
        if process is not None and process.is_alive():
            process.kill()
            process.join(5)


def start_venue(
    *,
    symbols: list[str],
    order_spec: SessionSpec,
    md_spec: SessionSpec,
    store_dir: Path,
    seed: int = 11,
    md_interval: float = 0.05,
    per_interval: int = 100,
    heartbeat_seconds: int = 1,
    reconnect_seconds: int = 1,
) -> VenueProcess:
    return VenueProcess(
        symbols=symbols,
        seed=seed,
        order_spec=order_spec,
        md_spec=md_spec,
        endpoint=Endpoint(
            store_dir=store_dir, heartbeat_seconds=heartbeat_seconds, reconnect_seconds=reconnect_seconds
        ),
        md_interval=md_interval,
        per_interval=per_interval,
    )
