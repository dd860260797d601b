"""The market-data ingestor: a QuickFIX initiator on the market-data session.

On logon it subscribes (35=V) to every listed symbol; each 35=W snapshot and 35=X incremental
refresh becomes one `MarketData` event per symbol it carries on settings.TOPIC_MARKET_QUOTES keyed
by symbol (docs/events.md): the top of book after the message as a quote, the 5 depth levels a
side, and the trades it carried.

The callback builds the events and hands them to the Kafka producer, whose own buffer
(librdkafka's queue, sent by its threads) absorbs bursts; it is not blocked by the broker unless
that buffer is full, and then waiting is the right thing: TCP pushes back on the venue instead of
quotes being dropped. It runs on the session thread on purpose. A second Python thread handing off
to it made the two contend for the GIL, and ingest fell from 150,000 to 95,000 entries/s
(docs/fix.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import quickfix as fix
import quickfix44 as fix44
from django.conf import settings

from apps.fix import messages as m
from apps.fix.sessions import Endpoint, SessionSpec, session_settings

logger = logging.getLogger(__name__)

_GET_GROUP = fix._quickfix.Message_getGroup
_GET_FIELD = fix._quickfix.FieldMap_getField

ENTRY_BID, ENTRY_OFFER, ENTRY_TRADE = "0", "1", "2"
ACTION_NEW, ACTION_CHANGE, ACTION_DELETE = "0", "1", "2"
DEPTH = 5

# [(symbol, action, entry type, price, size, position)]
Entries = list[tuple[str, str, str, str, str, int]]


@dataclass
class SymbolBook:
    """Depth by position (1 = best) as the venue last described it."""

    bids: dict[int, tuple[str, str]] = field(default_factory=dict)
    asks: dict[int, tuple[str, str]] = field(default_factory=dict)

    def apply(self, action: str, entry_type: str, price: str, size: str, position: int) -> None:
        side = self.bids if entry_type == ENTRY_BID else self.asks
        if action == ACTION_DELETE:
            side.pop(position, None)
        else:
            side[position] = (price, size)

    def levels(self, side: dict[int, tuple[str, str]]) -> list[list[str]]:
        return [list(side[p]) for p in sorted(side)[:DEPTH]]


@dataclass
class IngestorStats:
    messages: int = 0
    entries: int = 0
    entries_published: int = 0  # entries turned into produced Kafka events
    events_published: int = 0
    delivery_errors: int = 0
    subscriptions: int = 0


class MarketDataApplication(fix.Application):
    def __init__(self, ingestor: MarketDataIngestor) -> None:
        super().__init__()
        self.ingestor = ingestor
        # Constructing a group runs QuickFIX's field-order setup in Python (~40 µs); fromApp runs
        # on the one session thread and reuses these (getGroup overwrites their fields).
        self._groups = {"W": fix44.MarketDataSnapshotFullRefresh.NoMDEntries(),
                        "X": fix44.MarketDataIncrementalRefresh.NoMDEntries()}

    def onCreate(self, sessionID: fix.SessionID) -> None:
        return

    def onLogon(self, sessionID: fix.SessionID) -> None:
        self.ingestor.on_logon(sessionID)

    def onLogout(self, sessionID: fix.SessionID) -> None:
        self.ingestor.logged_on.clear()

    def toAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        return

    def fromAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        self.ingestor.last_inbound_at = time.time()

    def toApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        return

    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        ingestor = self.ingestor
        ingestor.last_inbound_at = time.time()
        kind = m.msg_type(message)
        if kind == "Y":
            logger.warning("market data request rejected: %s", m.get(message, m.TEXT))
            return
        if kind not in ("W", "X"):
            raise fix.UnsupportedMessageType()
        count = int(m.get(message, 268, "0"))
        snapshot_symbol = m.get(message, m.SYMBOL) if kind == "W" else ""
        group = self._groups[kind]
        # The SWIG functions behind Message.getGroup / FieldMap.getField, called directly: the
        # Python wrappers around them were a fifth of the ingest cost at 100,000 entries/s.
        get_group, get = _GET_GROUP, _GET_FIELD
        entries: Entries = []
        for index in range(1, count + 1):
            get_group(message, index, group)
            if kind == "X":
                symbol, action = get(group, 55), get(group, 279)
            else:
                symbol, action = snapshot_symbol, ACTION_NEW
            try:
                position = int(get(group, 290))
            except fix.FieldNotFound:  # trades carry no position
                position = 0
            try:
                size = get(group, 271)
            except fix.FieldNotFound:
                size = "0"
            entries.append((symbol, action, get(group, 269), get(group, 270), size, position))
        ingestor.stats.messages += 1
        ingestor.stats.entries += count
        try:
            ingestor.publish(kind, snapshot_symbol, entries, ingestor.last_inbound_at)
        except Exception:
            logger.exception("md ingestor: publish failed")


class MarketDataIngestor:
    def __init__(self, *, spec: SessionSpec, endpoint: Endpoint, symbols: Callable[[], list[str]],
                 producer: Any, topic: str | None = None, log_messages: bool = True) -> None:
        self.spec = spec
        self.symbols = symbols
        self.producer = producer
        self.topic = topic or settings.TOPIC_MARKET_QUOTES
        self.stats = IngestorStats()
        self.logged_on = threading.Event()
        self.last_inbound_at = 0.0
        self.books: dict[str, SymbolBook] = {}
        self.application = MarketDataApplication(self)
        self.settings = session_settings(role="initiator", sessions=[spec], endpoint=endpoint, name="md_ingestor")
        if log_messages:
            log_factory: Any = fix.FileLogFactory(self.settings)
        else:
            # At full market-data rate a message log costs more than the ingest itself; events
            # still go to the FileLog-free screen log (disabled per message below).
            for key, value in (("ScreenLogShowIncoming", "N"), ("ScreenLogShowOutgoing", "N"),
                               ("ScreenLogShowEvents", "Y")):
                defaults = self.settings.get()
                defaults.setString(key, value)
                self.settings.set(defaults)
            log_factory = fix.ScreenLogFactory(self.settings)
        # QuickFIX keeps references to the factories: they must live as long as the initiator.
        self.store_factory = fix.FileStoreFactory(self.settings)
        self.log_factory = log_factory
        self.initiator: Any = fix.SocketInitiator(self.application, self.store_factory, self.settings,
                                                  self.log_factory)

    def start(self) -> None:
        self.initiator.start()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.initiator.stop()
        # Destroy the initiator now (its sessions leave QuickFIX's global registry), so a new one
        # for the same session can be created in this process.
        self.initiator = None
        self.producer.flush(5)

    def state(self) -> dict[str, Any]:
        return {"session": self.spec.session_id.toString(), "logged_on": self.logged_on.is_set(),
                "last_inbound_at": self.last_inbound_at, "backlog": self.backlog(), **self.stats.__dict__}

    def on_logon(self, session_id: fix.SessionID) -> None:
        self.logged_on.set()
        symbols = self.symbols()
        request = fix44.MarketDataRequest()
        request.setField(262, f"md-{uuid.uuid4().hex[:12]}")
        request.setField(263, "1")  # snapshot plus updates
        request.setField(264, str(DEPTH))
        request.setField(265, "1")  # incremental refresh
        types_group = fix44.MarketDataRequest.NoMDEntryTypes()
        for entry_type in (ENTRY_BID, ENTRY_OFFER, ENTRY_TRADE):
            types_group.setField(269, entry_type)
            request.addGroup(types_group)
        symbol_group = fix44.MarketDataRequest.NoRelatedSym()
        for symbol in symbols:
            symbol_group.setField(m.SYMBOL, symbol)
            request.addGroup(symbol_group)
        self.stats.subscriptions = len(symbols)
        fix.Session.sendToTarget(request, session_id)

    def backlog(self) -> int:
        """Events handed to the producer and not yet acknowledged by the broker."""
        return len(self.producer)

    # --- publishing (on the session thread) ---------------------------------------------------
    def _delivered(self, error: Any, message: Any) -> None:
        if error is not None:
            self.stats.delivery_errors += 1
            logger.error("md ingestor: delivery failed: %s", error)

    def publish(self, kind: str, snapshot_symbol: str, entries: Entries, received_at: float) -> None:
        ts = dt.datetime.fromtimestamp(received_at, tz=dt.UTC).isoformat()
        if kind == "W":
            self.books[snapshot_symbol] = SymbolBook()
        touched: dict[str, list[dict[str, str]]] = {}
        books = self.books
        for symbol, action, entry_type, price, size, position in entries:
            trades = touched.get(symbol)
            if trades is None:
                trades = touched[symbol] = []
            if entry_type == ENTRY_TRADE:
                trades.append({"price": price, "size": size, "ts": ts})
            elif entry_type in (ENTRY_BID, ENTRY_OFFER):
                book = books.get(symbol)
                if book is None:
                    book = books[symbol] = SymbolBook()
                book.apply(action, entry_type, price, size, position or 1)
        for symbol, trades in touched.items():
            book = self.books.get(symbol) or SymbolBook()
            bids, asks = book.levels(book.bids), book.levels(book.asks)
            quotes = []
            if bids or asks:
                quotes.append({
                    "bid": bids[0][0] if bids else None, "ask": asks[0][0] if asks else None,
                    "bid_size": bids[0][1] if bids else None, "ask_size": asks[0][1] if asks else None, "ts": ts,
                })
            envelope = {
                "event_id": str(uuid.uuid4()), "type": "MarketData", "occurred_at": ts, "account_id": None,
                "payload": {"symbol": symbol, "quotes": quotes, "trades": trades,
                            "depth": {"bids": bids, "asks": asks}},
            }
            value = json.dumps(envelope, separators=(",", ":")).encode()
            while True:
                try:
                    self.producer.produce(self.topic, key=symbol.encode(), value=value, on_delivery=self._delivered)
                    break
                except BufferError:
                    self.producer.poll(0.05)
            self.stats.events_published += 1
        self.stats.entries_published += len(entries)
        self.producer.poll(0)
