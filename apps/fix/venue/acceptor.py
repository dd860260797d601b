"""The exchange simulator: a QuickFIX acceptor for an order session and a market-data session.

Order session: 35=D/F/G/H in, 35=8/9 out, matched by apps/fix/venue/matching.py.
Market-data session: 35=V in, one 35=W snapshot per symbol, then 35=X incremental refreshes
(5 depth levels a side and the trades since the previous refresh; several symbols per message).

QuickFIX callbacks only copy the fields they need onto a queue; one venue thread does the matching
and sends the reports, another publishes market data, so the session threads are never blocked.
`Switches` injects latency, rejects, a dropped session and silence for tests.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import itertools
import logging
import queue
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import quickfix as fix
import quickfix44 as fix44

from apps.fix import messages as m
from apps.fix.venue.hours import TradingHours
from apps.fix.venue.market_maker import MARKET_MAKER, MarketMaker
from apps.fix.venue.matching import (
    BookOrder,
    Event,
    EventKind,
    OrderBook,
    OrderRejected,
    OrderState,
    OrderType,
    Side,
    TimeInForce,
)

logger = logging.getLogger(__name__)

MD_LEVELS = 5
ENTRY_BID, ENTRY_OFFER, ENTRY_TRADE = "0", "1", "2"
ORD_STATUS_OF = {
    OrderState.NEW: m.ORD_STATUS_NEW, OrderState.WAITING_TRIGGER: m.ORD_STATUS_NEW,
    OrderState.PARTIALLY_FILLED: m.ORD_STATUS_PARTIAL, OrderState.FILLED: m.ORD_STATUS_FILLED,
    OrderState.CANCELED: m.ORD_STATUS_CANCELED, OrderState.EXPIRED: m.ORD_STATUS_EXPIRED,
    OrderState.REJECTED: m.ORD_STATUS_REJECTED,
}
EXEC_TYPE_OF = {
    EventKind.ACCEPTED: "0", EventKind.FILL: "F", EventKind.CANCELED: "4", EventKind.EXPIRED: "C",
    EventKind.REPLACED: "5",
}


@dataclass
class Switches:
    """Failure injection. Tests flip these directly; the worker reads them from Redis."""

    latency_ms: int = 0            # delay before the venue handles each order message
    reject_ratio: float = 0.0      # share of new orders rejected (OrdRejReason 0)
    silent: bool = False           # stop answering: order messages are received and ignored
    refuse_logon_until: float = 0.0  # after a dropped session, refuse logons until this time

    def as_dict(self) -> dict[str, Any]:
        return {"latency_ms": self.latency_ms, "reject_ratio": self.reject_ratio, "silent": self.silent,
                "refusing_logon": self.refuse_logon_until > time.time()}


@dataclass
class _Inbound:
    msg_type: str
    session: str
    fields: dict[int, str]
    received_at: float = field(default_factory=time.monotonic)
    groups: list[str] = field(default_factory=list)


ORDER_TAGS = (m.CL_ORD_ID, m.ORIG_CL_ORD_ID, m.ACCOUNT, m.SYMBOL, m.SIDE, m.ORD_TYPE, m.ORDER_QTY,
              m.CASH_ORDER_QTY, m.PRICE, m.STOP_PX, m.TIME_IN_FORCE, m.ORDER_ID)


class Venue:
    """Books, market makers and the order registry. All state changes happen under `lock`."""

    def __init__(self, *, symbols: Iterable[str], seed: int, always_open: bool = True) -> None:
        self.symbols = frozenset(s.upper() for s in symbols)
        self.seed = seed
        self.hours = TradingHours(always_open=always_open)
        self.lock = threading.RLock()
        self.books: dict[str, OrderBook] = {}
        self.makers: dict[str, MarketMaker] = {}
        # (session, ClOrdID) -> order; every ClOrdID of a replace chain points at the same order.
        self.registry: dict[tuple[str, str], BookOrder] = {}
        self.accepted: Counter[str] = Counter()  # ClOrdIDs of accepted new orders (tests: never twice)
        self.run_id = uuid.uuid4().hex[:8]
        self._exec_ids = itertools.count(1)
        self._rng = random.Random(seed)  # noqa: S311 - simulation
        self.trading_day = self.hours.trading_day(dt.datetime.now(dt.UTC))

    def next_exec_id(self) -> str:
        return f"{self.run_id}-{next(self._exec_ids)}"

    def book(self, symbol: str) -> OrderBook:
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = OrderBook(symbol, id_prefix=f"{self.run_id}-{symbol}")
            maker = self.makers[symbol] = MarketMaker(symbol=symbol, seed=self.seed)
            maker.requote(book)
        return book

    def requote(self, symbol: str) -> tuple[list[Event], list[MdEntry]]:
        """One market-data step of `symbol` (under `lock`): move its fair price, requote, take the
        trades since the last step. Returns the book's events (customer fills) and the symbol's
        incremental-refresh entries."""
        book = self.book(symbol)
        maker = self.makers[symbol]
        maker.step()
        events = maker.requote(book)
        trades, book.trades = book.trades, []
        return events, md_entries(book, trades)

    def customer_symbols(self) -> set[str]:
        return {s for s, b in self.books.items()
                if b.stops or any(o.owner != MARKET_MAKER for o in b.resting_orders())}

    def random_reject(self, ratio: float) -> bool:
        return ratio > 0 and self._rng.random() < ratio


class ExchangeApplication(fix.Application):
    """The venue's QuickFIX application for both sessions."""

    def __init__(self, venue: Venue, *, md_interval: float = 0.2, md_symbols_per_interval: int = 100,
                 md_symbols_per_message: int = 10) -> None:
        super().__init__()
        self.venue = venue
        self.switches = Switches()
        self.md_interval = md_interval
        self.md_symbols_per_interval = md_symbols_per_interval
        self.md_symbols_per_message = max(1, md_symbols_per_message)
        self.inbound: queue.Queue[_Inbound | None] = queue.Queue()
        self.sessions: dict[str, fix.SessionID] = {}
        self.logged_on: set[str] = set()
        self.md_sessions: set[str] = set()  # set by the runner: which sessions carry market data
        self.subscriptions: dict[str, tuple[str, set[str]]] = {}  # session -> (MDReqID, symbols)
        self._md_cursor = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.md_messages_sent = 0
        self.md_entries_sent = 0

    # --- lifecycle ----------------------------------------------------------------------------
    def start_threads(self) -> None:
        for target, name in ((self._order_loop, "venue-orders"), (self._md_loop, "venue-md"),
                             (self._hours_loop, "venue-hours")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop_threads(self) -> None:
        self._stop.set()
        self.inbound.put(None)
        for thread in self._threads:
            thread.join(timeout=5)

    def drop_sessions(self, *, refuse_seconds: float = 0.0) -> None:
        """Drop every order session: the venue logs it out and refuses logons for a while.

        Session.logout only flags the session; QuickFIX's own thread sends the Logout and closes
        the socket (closing it from this thread would race the acceptor's socket loop).
        """
        self.switches.refuse_logon_until = time.time() + refuse_seconds
        dropped = []
        for key, session_id in list(self.sessions.items()):
            if key in self.md_sessions:
                continue
            session = fix.Session.lookupSession(session_id)
            if session is not None:
                session.logout("session dropped by the venue")
                dropped.append(session_id)

        def enable_again() -> None:
            if self._stop.is_set():
                return  # the acceptor is gone: its sessions must not be touched
            for session_id in dropped:
                session = fix.Session.lookupSession(session_id)
                if session is not None:
                    session.logon()

        timer = threading.Timer(max(refuse_seconds, 0.5), enable_again)
        timer.daemon = True
        timer.start()

    # --- QuickFIX callbacks (session threads: copy and return) --------------------------------
    def onCreate(self, sessionID: fix.SessionID) -> None:
        # QuickFIX owns the SessionID passed in; keep a copy of our own, never its pointer.
        own = fix.SessionID()
        own.fromString(sessionID.toString())
        self.sessions[sessionID.toString()] = own

    def onLogon(self, sessionID: fix.SessionID) -> None:
        self.logged_on.add(sessionID.toString())
        logger.info("venue: %s logged on", sessionID.toString())

    def onLogout(self, sessionID: fix.SessionID) -> None:
        key = sessionID.toString()
        self.logged_on.discard(key)
        self.subscriptions.pop(key, None)

    def toAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        return

    def fromAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        if m.msg_type(message) == "A" and self.switches.refuse_logon_until > time.time():
            raise fix.RejectLogon("venue unavailable")

    def toApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        return

    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        kind = m.msg_type(message)
        key = sessionID.toString()
        if kind == "V":
            symbols = []
            group = fix44.MarketDataRequest.NoRelatedSym()
            count = int(m.get(message, 146, "0"))
            for index in range(1, count + 1):
                message.getGroup(index, group)
                symbols.append(group.getField(m.SYMBOL))
            fields = {tag: message.getField(tag) for tag in (262, 263) if message.isSetField(tag)}
            self.inbound.put(_Inbound(kind, key, fields, groups=symbols))
            return
        if kind not in ("D", "F", "G", "H"):
            raise fix.UnsupportedMessageType()
        fields = {tag: message.getField(tag) for tag in ORDER_TAGS if message.isSetField(tag)}
        self.inbound.put(_Inbound(kind, key, fields))

    # --- the venue thread ---------------------------------------------------------------------
    def _order_loop(self) -> None:
        while True:
            item = self.inbound.get()
            if item is None or self._stop.is_set():
                return
            try:
                if item.msg_type == "V":
                    self._market_data_request(item)
                    continue
                if self.switches.latency_ms:
                    wait = item.received_at + self.switches.latency_ms / 1000 - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                if self.switches.silent:
                    continue
                self._handle(item)
            except Exception:
                logger.exception("venue: failed to handle %s from %s", item.msg_type, item.session)

    def _handle(self, item: _Inbound) -> None:
        handler = {"D": self._new_order, "F": self._cancel, "G": self._replace, "H": self._status}[item.msg_type]
        with self.venue.lock:
            out = handler(item)
        for session, message in out:
            self._send(session, message)

    def _send(self, session: str, message: fix.Message) -> None:
        session_id = self.sessions.get(session)
        if session_id is not None:
            fix.Session.sendToTarget(message, session_id)

    # --- order handling (under the venue lock) ------------------------------------------------
    Outbound = list[tuple[str, fix.Message]]

    def _new_order(self, item: _Inbound) -> Outbound:
        f = item.fields
        cl_ord_id = f.get(m.CL_ORD_ID, "")
        symbol = f.get(m.SYMBOL, "").upper()
        venue = self.venue
        if (item.session, cl_ord_id) in venue.registry:
            return [(item.session, self._reject(f, m.REJ_DUPLICATE_ORDER, "duplicate ClOrdID"))]
        if symbol not in venue.symbols:
            return [(item.session, self._reject(f, m.REJ_UNKNOWN_SYMBOL, f"unknown symbol {symbol}"))]
        if not venue.hours.is_open(dt.datetime.now(dt.UTC)):
            return [(item.session, self._reject(f, m.REJ_EXCHANGE_CLOSED, "exchange closed"))]
        if venue.random_reject(self.switches.reject_ratio):
            return [(item.session, self._reject(f, m.REJ_BROKER_OPTION, "rejected by the venue (reject switch)"))]
        try:
            order = self._book_order(item.session, f)
        except (ValueError, KeyError) as exc:
            return [(item.session, self._reject(f, m.REJ_OTHER, f"invalid order: {exc}"))]
        book = venue.book(symbol)
        try:
            events = book.submit(order)
        except OrderRejected as exc:
            return [(item.session, self._reject(f, m.REJ_OTHER, exc.reason.value))]
        venue.registry[(item.session, cl_ord_id)] = order
        venue.accepted[cl_ord_id] += 1
        return self._reports(events)

    def _book_order(self, session: str, f: dict[int, str]) -> BookOrder:
        order_type = OrderType(m.ORD_TYPE_NAMES[f.get(m.ORD_TYPE, "1")])
        symbol = f[m.SYMBOL].upper()
        qty_text = f.get(m.ORDER_QTY)
        limit = Decimal(f[m.PRICE]) if m.PRICE in f else None
        stop = Decimal(f[m.STOP_PX]) if m.STOP_PX in f else None
        if qty_text:
            qty = Decimal(qty_text)
        elif m.CASH_ORDER_QTY in f:
            # A notional order buys what the cash covers at the reference price, whole shares.
            book = self.venue.book(symbol)
            reference = limit or book.best_ask() or book.last_price or self.venue.makers[symbol].fair
            qty = (Decimal(f[m.CASH_ORDER_QTY]) / reference).quantize(Decimal("1"), rounding="ROUND_DOWN")
        else:
            raise ValueError("no OrderQty or CashOrderQty")
        return BookOrder(
            order_id="", client_order_id=f[m.CL_ORD_ID], owner=session, symbol=symbol,
            side=Side(m.SIDE_NAMES[f[m.SIDE]]), type=order_type,
            time_in_force=TimeInForce(m.TIF_NAMES[f.get(m.TIME_IN_FORCE, "0")]),
            qty=qty, limit_price=limit, stop_price=stop, account=f.get(m.ACCOUNT, ""),
        )

    def _lookup(self, session: str, cl_ord_id: str) -> BookOrder | None:
        return self.venue.registry.get((session, cl_ord_id))

    def _cancel(self, item: _Inbound) -> Outbound:
        f = item.fields
        order = self._lookup(item.session, f.get(m.ORIG_CL_ORD_ID, ""))
        if order is None:
            return [(item.session, self._cancel_reject(f, None, "1", "unknown order", "1"))]
        if order.client_order_id != f.get(m.ORIG_CL_ORD_ID):
            return [(item.session, self._cancel_reject(f, order, "1", "OrigClOrdID was replaced", "0"))]
        try:
            events = self.venue.books[order.symbol].cancel(order, reason="canceled on request")
        except OrderRejected as exc:
            return [(item.session, self._cancel_reject(f, order, "1", exc.reason.value, "0"))]
        self.venue.registry[(item.session, f[m.CL_ORD_ID])] = order
        return self._reports(events, cancel_cl_ord_id=f[m.CL_ORD_ID], orig_cl_ord_id=f[m.ORIG_CL_ORD_ID])

    def _replace(self, item: _Inbound) -> Outbound:
        f = item.fields
        order = self._lookup(item.session, f.get(m.ORIG_CL_ORD_ID, ""))
        new_id = f.get(m.CL_ORD_ID, "")
        if order is None:
            return [(item.session, self._cancel_reject(f, None, "2", "unknown order", "1"))]
        if (item.session, new_id) in self.venue.registry:
            return [(item.session, self._cancel_reject(f, order, "2", "duplicate ClOrdID", "6"))]
        if order.client_order_id != f.get(m.ORIG_CL_ORD_ID):
            return [(item.session, self._cancel_reject(f, order, "2", "OrigClOrdID was replaced", "0"))]
        try:
            side = Side(m.SIDE_NAMES[f.get(m.SIDE, "")])
            if side is not order.side:
                return [(item.session, self._cancel_reject(f, order, "2", "replace must keep the side", "0"))]
            events = self.venue.books[order.symbol].replace(
                order, new_client_order_id=new_id, qty=Decimal(f[m.ORDER_QTY]),
                limit_price=Decimal(f[m.PRICE]) if m.PRICE in f else None,
                stop_price=Decimal(f[m.STOP_PX]) if m.STOP_PX in f else None,
                time_in_force=TimeInForce(m.TIF_NAMES[f[m.TIME_IN_FORCE]]) if m.TIME_IN_FORCE in f else None,
            )
        except OrderRejected as exc:
            return [(item.session, self._cancel_reject(f, order, "2", exc.reason.value, "0"))]
        except (KeyError, ValueError, ArithmeticError) as exc:
            return [(item.session, self._cancel_reject(f, order, "2", f"invalid replace: {exc}", "0"))]
        self.venue.registry[(item.session, new_id)] = order
        return self._reports(events)

    def _status(self, item: _Inbound) -> Outbound:
        f = item.fields
        order = self._lookup(item.session, f.get(m.CL_ORD_ID, ""))
        if order is None:
            message = self._report_base(f.get(m.CL_ORD_ID, ""), "NONE", f.get(m.SYMBOL, ""), f.get(m.SIDE, "1"))
            message.setField(m.EXEC_TYPE, "I")
            message.setField(m.ORD_STATUS, m.ORD_STATUS_REJECTED)
            message.setField(m.ORD_REJ_REASON, m.REJ_UNKNOWN_ORDER)
            message.setField(m.TEXT, "unknown order")
            for tag in (m.LEAVES_QTY, m.CUM_QTY, m.AVG_PX):
                message.setField(tag, "0")
            return [(item.session, message)]
        message = self._order_report(order, "I")
        message.setField(m.CL_ORD_ID, f[m.CL_ORD_ID])
        return [(item.session, message)]

    # --- report construction ------------------------------------------------------------------
    def _report_base(self, cl_ord_id: str, order_id: str, symbol: str, side_code: str) -> fix.Message:
        message = fix44.ExecutionReport()
        message.setField(m.ORDER_ID, order_id)
        message.setField(m.CL_ORD_ID, cl_ord_id)
        message.setField(m.EXEC_ID, self.venue.next_exec_id())
        message.setField(m.SYMBOL, symbol)
        message.setField(m.SIDE, side_code)
        message.setField(m.utc_timestamp())
        return message

    def _order_report(self, order: BookOrder, exec_type: str) -> fix.Message:
        message = self._report_base(order.client_order_id, order.order_id, order.symbol, m.SIDE_CODES[order.side.value])
        message.setField(m.EXEC_TYPE, exec_type)
        if order.account:
            message.setField(m.ACCOUNT, order.account)
        message.setField(m.ORD_STATUS, ORD_STATUS_OF[order.state])
        message.setField(m.ORD_TYPE, m.ORD_TYPE_CODES[order.type.value])
        message.setField(m.TIME_IN_FORCE, m.TIF_CODES[order.time_in_force.value])
        message.setField(m.ORDER_QTY, m.decimal_text(order.qty))
        if order.limit_price is not None:
            message.setField(m.PRICE, m.decimal_text(order.limit_price))
        if order.stop_price is not None:
            message.setField(m.STOP_PX, m.decimal_text(order.stop_price))
        message.setField(m.LEAVES_QTY, m.decimal_text(order.leaves_qty))
        message.setField(m.CUM_QTY, m.decimal_text(order.filled_qty))
        message.setField(m.AVG_PX, m.decimal_text(order.avg_price))
        return message

    def _reports(self, events: list[Event], *, cancel_cl_ord_id: str = "", orig_cl_ord_id: str = "") -> Outbound:
        out: list[tuple[str, fix.Message]] = []
        for event in events:
            order = event.order
            if order.owner == MARKET_MAKER or event.kind not in EXEC_TYPE_OF:
                continue
            message = self._order_report(order, EXEC_TYPE_OF[event.kind])
            message.setField(m.ORD_STATUS, ORD_STATUS_OF[event.state])
            message.setField(m.LEAVES_QTY, m.decimal_text(event.leaves_qty))
            message.setField(m.CUM_QTY, m.decimal_text(event.cum_qty))
            message.setField(m.AVG_PX, m.decimal_text(event.avg_price))
            if event.kind is EventKind.FILL:
                message.setField(m.LAST_QTY, m.decimal_text(event.last_qty))
                message.setField(m.LAST_PX, m.decimal_text(event.last_price))
            elif event.kind is EventKind.REPLACED:
                message.setField(m.ORIG_CL_ORD_ID, event.previous_client_order_id)
            elif event.kind is EventKind.CANCELED and cancel_cl_ord_id:
                message.setField(m.CL_ORD_ID, cancel_cl_ord_id)
                message.setField(m.ORIG_CL_ORD_ID, orig_cl_ord_id)
            if event.reason:
                message.setField(m.TEXT, event.reason)
            out.append((order.owner, message))
        return out

    def _reject(self, f: dict[int, str], reason_code: str, text: str) -> fix.Message:
        message = self._report_base(f.get(m.CL_ORD_ID, ""), "NONE", f.get(m.SYMBOL, ""), f.get(m.SIDE, "1"))
        message.setField(m.EXEC_TYPE, "8")
        message.setField(m.ORD_STATUS, m.ORD_STATUS_REJECTED)
        message.setField(m.ORD_REJ_REASON, reason_code)
        message.setField(m.TEXT, text)
        if f.get(m.ACCOUNT):
            message.setField(m.ACCOUNT, f[m.ACCOUNT])
        if m.ORDER_QTY in f:
            message.setField(m.ORDER_QTY, f[m.ORDER_QTY])
        for tag in (m.LEAVES_QTY, m.CUM_QTY, m.AVG_PX):
            message.setField(tag, "0")
        return message

    def _cancel_reject(self, f: dict[int, str], order: BookOrder | None, response_to: str, text: str,
                       reason: str) -> fix.Message:
        message = fix44.OrderCancelReject()
        message.setField(m.ORDER_ID, order.order_id if order else "NONE")
        message.setField(m.CL_ORD_ID, f.get(m.CL_ORD_ID, ""))
        message.setField(m.ORIG_CL_ORD_ID, f.get(m.ORIG_CL_ORD_ID, ""))
        message.setField(m.ORD_STATUS, ORD_STATUS_OF[order.state] if order else m.ORD_STATUS_REJECTED)
        account = (order.account if order else "") or f.get(m.ACCOUNT, "")
        if account:
            message.setField(m.ACCOUNT, account)
        message.setField(m.CXL_REJ_RESPONSE_TO, response_to)
        message.setField(m.CXL_REJ_REASON, reason)
        message.setField(m.TEXT, text)
        return message

    # --- trading day ----------------------------------------------------------------------------
    def _hours_loop(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.expire_if_new_day(dt.datetime.now(dt.UTC))
            except Exception:
                logger.exception("venue: day rollover failed")

    def expire_if_new_day(self, now: dt.datetime) -> int:
        """Expire day orders once the trading day changed; returns how many were expired."""
        venue = self.venue
        day = venue.hours.trading_day(now)
        if day == venue.trading_day:
            return 0
        out: list[tuple[str, fix.Message]] = []
        with venue.lock:
            venue.trading_day = day
            for book in venue.books.values():
                out.extend(self._reports(book.expire_day()))
        for session, message in out:
            self._send(session, message)
        return len(out)

    # --- market data --------------------------------------------------------------------------
    def _market_data_request(self, item: _Inbound) -> None:
        request_id = item.fields.get(262, "")
        kind = item.fields.get(263, "1")
        if kind == "2":
            self.subscriptions.pop(item.session, None)
            return
        wanted = {s.upper() for s in item.groups}
        known = wanted & self.venue.symbols
        if not known:
            reject = fix44.MarketDataRequestReject()
            reject.setField(262, request_id)
            reject.setField(281, "0")  # unknown symbol
            reject.setField(m.TEXT, "no known symbol requested")
            self._send(item.session, reject)
            return
        snapshots = []
        with self.venue.lock:
            for symbol in sorted(known):
                book = self.venue.book(symbol)
                snapshots.append(self._snapshot(request_id, symbol, book))
        if kind == "1":
            self.subscriptions[item.session] = (request_id, known)
        for snapshot in snapshots:
            self._send(item.session, snapshot)

    def _snapshot(self, request_id: str, symbol: str, book: OrderBook) -> fix.Message:
        message = fix44.MarketDataSnapshotFullRefresh()
        message.setField(262, request_id)
        message.setField(m.SYMBOL, symbol)
        bids, asks = book.depth(MD_LEVELS)
        group = fix44.MarketDataSnapshotFullRefresh.NoMDEntries()
        for entry_type, levels in ((ENTRY_BID, bids), (ENTRY_OFFER, asks)):
            for position, (price, qty) in enumerate(levels, start=1):
                group.setField(269, entry_type)
                group.setField(270, m.decimal_text(price))
                group.setField(271, m.decimal_text(qty))
                group.setField(290, str(position))
                message.addGroup(group)
        if book.last_price is not None and book.trades:
            trade = book.trades[-1]
            group = fix44.MarketDataSnapshotFullRefresh.NoMDEntries()
            group.setField(269, ENTRY_TRADE)
            group.setField(270, m.decimal_text(trade.price))
            group.setField(271, m.decimal_text(trade.qty))
            message.addGroup(group)
        return message

    def _md_loop(self) -> None:
        while not self._stop.wait(self.md_interval):
            try:
                self.publish_market_data()
            except Exception:
                logger.exception("venue: market-data publish failed")

    def publish_market_data(self) -> int:
        """Move the fair price of the next batch of active symbols, requote, publish 35=X.

        The book changes happen under the venue lock; the FIX messages are built after it is
        released, each carrying the updates of up to `md_symbols_per_message` symbols (every entry
        names its symbol). Returns the number of 35=X messages sent.
        """
        venue = self.venue
        subscribers = {s: set(symbols) for s, (_, symbols) in list(self.subscriptions.items())
                       if s in self.logged_on}
        wanted: set[str] = set().union(*subscribers.values()) if subscribers else set()
        reports: list[tuple[str, fix.Message]] = []
        updates: list[tuple[str, list[MdEntry]]] = []
        with venue.lock:
            active = sorted(wanted | venue.customer_symbols())
            if not active:
                return 0
            count = min(self.md_symbols_per_interval, len(active))
            start = self._md_cursor % len(active)
            batch = [active[(start + i) % len(active)] for i in range(count)]
            self._md_cursor = start + count
            for symbol in batch:
                events, entries = venue.requote(symbol)
                reports.extend(self._reports(events))
                if symbol in wanted:
                    updates.append((symbol, entries))
        for session, message in reports:
            self._send(session, message)
        sent = 0
        per_message = self.md_symbols_per_message
        for session, symbols in subscribers.items():
            mine = [update for update in updates if update[0] in symbols]
            for first in range(0, len(mine), per_message):
                message = self.incremental_refresh(mine[first:first + per_message])
                self._send(session, message)
                self.md_messages_sent += 1
                sent += 1
        return sent

    def incremental_refresh(self, updates: list[tuple[str, list[MdEntry]]]) -> fix.Message:
        """One 35=X carrying the entries of several symbols."""
        message = fix44.MarketDataIncrementalRefresh()
        group = self._md_group
        entries = 0
        for symbol, symbol_entries in updates:
            for action, entry_type, price, size, position in symbol_entries:
                if position:
                    group.setField(290, position)
                else:
                    group.removeField(290)
                group.setField(279, action)
                group.setField(269, entry_type)
                group.setField(m.SYMBOL, symbol)
                group.setField(270, price)
                group.setField(271, size)
                message.addGroup(group)
                entries += 1
        self.md_entries_sent += entries
        return message

    @functools.cached_property
    def _md_group(self) -> Any:
        # Building a group runs QuickFIX's field-order setup in Python (~40 µs); the md thread
        # reuses one: addGroup copies it into the message.
        return fix44.MarketDataIncrementalRefresh.NoMDEntries()


# (action, entry type, price, size, position or "") as wire text
MdEntry = tuple[str, str, str, str, str]


def md_entries(book: OrderBook, trades: list[Any]) -> list[MdEntry]:
    """The incremental entries of one symbol: its 5 depth levels a side ("change": the level at
    this position now holds this) and the trades since the last refresh ("new")."""
    bids, asks = book.depth(MD_LEVELS)
    out: list[MdEntry] = []
    for entry_type, levels in ((ENTRY_BID, bids), (ENTRY_OFFER, asks)):
        for position, (price, qty) in enumerate(levels, start=1):
            out.append(("1", entry_type, m.decimal_text(price), m.decimal_text(qty), str(position)))
    for trade in trades:
        out.append(("0", ENTRY_TRADE, m.decimal_text(trade.price), m.decimal_text(trade.qty), ""))
    return out


class ExchangeSimulator:
    """Owns the QuickFIX acceptor and the venue threads; used by the worker and by tests."""

    def __init__(self, *, venue: Venue, order_spec: Any, md_spec: Any, endpoint: Any,
                 md_interval: float = 0.2, md_symbols_per_interval: int = 100, md_symbols_per_message: int = 10,
                 log_md_messages: bool = True) -> None:
        from apps.fix.sessions import session_settings, venue_side

        self.application = ExchangeApplication(venue, md_interval=md_interval,
                                               md_symbols_per_interval=md_symbols_per_interval,
                                               md_symbols_per_message=md_symbols_per_message)
        venue_order, venue_md = venue_side(order_spec), venue_side(md_spec)
        self.application.md_sessions = {venue_md.session_id.toString()}
        self.settings = session_settings(role="acceptor", sessions=[venue_order, venue_md],
                                         endpoint=endpoint, name="exchange")
        self.store_factory = fix.FileStoreFactory(self.settings)
        self.log_factory = fix.FileLogFactory(self.settings)
        self.acceptor: Any = fix.SocketAcceptor(self.application, self.store_factory, self.settings, self.log_factory)
        self.log_md_messages = log_md_messages

    @property
    def venue(self) -> Venue:
        return self.application.venue

    def start(self) -> None:
        self.application.start_threads()
        self.acceptor.start()

    def stop(self) -> None:
        # Venue threads first: nothing may send while QuickFIX tears its sessions down.
        self.application.stop_threads()
        # Let counterparties that are logging out finish first: QuickFIX's acceptor stop races
        # with a session it is still tearing down.
        deadline = time.monotonic() + 3.0
        while self.application.logged_on and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        with contextlib.suppress(Exception):
            self.acceptor.stop(True)  # force: no logout round trip racing the reactor thread
        self.acceptor = None
