"""`/ws/stream`: one authenticated WebSocket per client for quotes and the customer's order updates.

The protocol (frames, limits, close codes) is documented in docs/realtime.md.

Design notes:
- Handlers never send to the socket; they update per-connection state and wake one writer task.
  A client that does not read blocks only its own writer: its quotes keep conflating (one pending
  entry per subscribed symbol) and its other frames sit in a bounded queue; overflow closes the
  socket with 4008 and the client resumes its order updates from the database.
- Per-symbol order: the snapshot is queued before any update, and an update whose timestamp is not
  newer than what the client already has is dropped.
- Quotes do not go through Channels' per-consumer message path: the process's QuoteHub
  (apps/realtime/hub.py) is the one channel-layer member of the quote groups and calls
  `quote_push` with the JSON fragment the fanout encoded once; the writer joins the pending
  fragments into one frame. No database work happens per message (see `dispatch`).
- Order updates carry a per-account `seq`. A duplicate is dropped; a gap (or a resume request)
  is filled from `orders.OrderEvent` before the live event goes out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
from collections import deque
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from apps.realtime import selectors
from apps.realtime.hub import quote_fields, quote_hub
from apps.realtime.hub import quote_group as quote_group

logger = logging.getLogger(__name__)

MAX_SYMBOLS_PER_CONNECTION = getattr(settings, "REALTIME_MAX_SYMBOLS", 50)
MAX_QUEUED_FRAMES = getattr(settings, "REALTIME_MAX_QUEUED_FRAMES", 2000)
HEARTBEAT_SECONDS = getattr(settings, "REALTIME_HEARTBEAT_SECONDS", 15.0)
# Group messages of one fanout flush arrive as a burst; waiting this long lets one frame carry them.
BATCH_SECONDS = 0.005
REPLAY_CHUNK = 500
CLOSE_SLOW_CONSUMER = 4008
SYMBOL_PATTERN = re.compile(r"^[A-Z][A-Z0-9.\-]{0,15}$")


def account_group(account_id: str) -> str:
    return f"orders.{account_id}"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class StreamConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.user = await self._authenticate()
        if self.user is None:
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        self.accounts: list[str] = await database_sync_to_async(selectors.account_ids_for_user)(user=self.user)
        self.symbols: set[str] = set()
        self.quote_ts: dict[str, str] = {}
        self.pending_quotes: dict[str, str] = {}  # symbol -> JSON fragment of its latest update
        self.frames: deque[str] = deque()
        self.last_seq: dict[str, int | None] = dict.fromkeys(self.accounts)
        self.wake = asyncio.Event()
        self.room = asyncio.Event()  # set when the frame queue has space again (replay backpressure)
        self.closing = False
        await self.accept()
        for account in self.accounts:
            await self.channel_layer.group_add(account_group(account), self.channel_name)
        self.last_write = asyncio.get_running_loop().time()
        self.heartbeat_due = False
        self.writer = asyncio.create_task(self._write_loop())
        self.heartbeats = asyncio.create_task(self._heartbeat_loop())
        self._queue({"type": "welcome", "user": self.user.get_username(), "accounts": self.accounts,
                     "limits": {"symbols": MAX_SYMBOLS_PER_CONNECTION, "queued_frames": MAX_QUEUED_FRAMES},
                     "heartbeat_seconds": HEARTBEAT_SECONDS})
        since = self._query().get("since")
        if since is not None:
            await self._resume(since)

    async def disconnect(self, code: int) -> None:
        self.closing = True
        for task in (getattr(self, "writer", None), getattr(self, "heartbeats", None)):
            if task is not None:
                task.cancel()
        symbols = list(getattr(self, "symbols", ()))
        if symbols:
            await quote_hub(self.channel_layer).leave(self, symbols)
        for account in getattr(self, "accounts", ()):
            await self.channel_layer.group_discard(account_group(account), self.channel_name)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch runs `close_old_connections` through the single-threaded database
        executor before every message, which made each quote of each connection queue behind
        every other connection's database work. This consumer touches the database only through
        `database_sync_to_async`, which closes stale connections around each call itself, so
        messages are dispatched directly."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- authentication --------------------------------------------------------------------------

    def _query(self) -> dict[str, str]:
        raw = parse_qs(self.scope.get("query_string", b"").decode(), keep_blank_values=False)
        return {key: values[-1] for key, values in raw.items()}

    async def _authenticate(self) -> Any:
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            return user
        headers = {k.decode().lower(): v.decode() for k, v in self.scope.get("headers", [])}
        query = self._query()
        token = query.get("token")
        authorization = headers.get("authorization", "")
        if not token and authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        key_id = query.get("key_id") or headers.get("apca-api-key-id")
        secret = query.get("secret") or headers.get("apca-api-secret-key")
        if not token and not (key_id and secret):
            return None
        return await database_sync_to_async(selectors.user_for_credentials)(token=token, key_id=key_id, secret=secret)

    # --- client frames ---------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = json.loads(text_data or "")
            if not isinstance(frame, dict):
                raise ValueError("a frame is a JSON object")
        except ValueError:
            self._queue({"type": "error", "code": "bad_frame", "message": "frames are JSON objects"})
            return
        action = frame.get("action")
        if action == "subscribe":
            await self._subscribe(frame.get("quotes"))
        elif action == "unsubscribe":
            await self._unsubscribe(frame.get("quotes"))
        elif action == "resume":
            await self._resume(frame.get("since"))
        elif action == "ping":
            self._queue({"type": "pong", "ts": _now(), "id": frame.get("id")})
        else:
            self._queue({"type": "error", "code": "unknown_action", "message": f"unknown action {action!r}"})

    def _symbol_list(self, raw: Any) -> list[str] | None:
        if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
            self._queue({"type": "error", "code": "bad_frame", "message": "quotes must be a list of symbols"})
            return None
        return list(dict.fromkeys(s.strip().upper() for s in raw))

    async def _subscribe(self, raw: Any) -> None:
        symbols = self._symbol_list(raw)
        if symbols is None:
            return
        wanted = [s for s in symbols if s not in self.symbols]
        malformed = [s for s in wanted if not SYMBOL_PATTERN.match(s)]
        candidates = [s for s in wanted if SYMBOL_PATTERN.match(s)]
        known = await selectors.known_symbols_cached(symbols=candidates) if candidates else set()
        unknown = malformed + [s for s in candidates if s not in known]
        if unknown:
            self._queue({"type": "error", "code": "unknown_symbol", "message": "unknown symbols", "symbols": unknown})
        accepted = [s for s in candidates if s in known]
        room = MAX_SYMBOLS_PER_CONNECTION - len(self.symbols)
        if len(accepted) > room:
            self._queue({"type": "error", "code": "symbol_limit",
                         "message": f"at most {MAX_SYMBOLS_PER_CONNECTION} symbols per connection",
                         "symbols": accepted[max(room, 0):]})
            accepted = accepted[:max(room, 0)]
        if not accepted:
            return
        # Join first, then read the snapshot: an update racing the read is either older than the
        # snapshot (dropped by timestamp) or newer (delivered after it).
        self.symbols.update(accepted)
        await quote_hub(self.channel_layer).join(self, accepted)
        snapshot = await selectors.quote_snapshots(symbols=accepted)
        for entry in snapshot:
            symbol, ts = entry["symbol"], entry.get("ts")
            if ts and ts >= self.quote_ts.get(symbol, ""):
                # The snapshot is at least as new as an update that raced it: drop that update.
                self.quote_ts[symbol] = ts
                self.pending_quotes.pop(symbol, None)
        self._queue({"type": "subscribed", "quotes": sorted(self.symbols)})
        self._queue({"type": "quotes", "snapshot": True, "data": snapshot})

    async def _unsubscribe(self, raw: Any) -> None:
        symbols = self._symbol_list(raw)
        if symbols is None:
            return
        leaving = [symbol for symbol in symbols if symbol in self.symbols]
        for symbol in leaving:
            self.symbols.discard(symbol)
            self.pending_quotes.pop(symbol, None)
            self.quote_ts.pop(symbol, None)
        if leaving:
            await quote_hub(self.channel_layer).leave(self, leaving)
        self._queue({"type": "subscribed", "quotes": sorted(self.symbols)})

    async def _resume(self, since: Any) -> None:
        """Replay order events after `since`: an int (every account of the user) or {account_id: seq}."""
        try:
            if isinstance(since, dict):
                wanted = {str(k): int(v) for k, v in since.items()}
            else:
                wanted = dict.fromkeys(self.accounts, int(since))
        except (TypeError, ValueError):
            self._queue({"type": "error", "code": "bad_frame", "message": "since must be a sequence number"})
            return
        for account, seq in wanted.items():
            if account not in self.last_seq:
                self._queue({"type": "error", "code": "unknown_account", "message": f"not your account: {account}"})
                continue
            self.last_seq[account] = seq
            await self._replay(account, upto=None)

    # --- channel layer events --------------------------------------------------------------------

    def quote_push(self, symbol: str, ts: str, fragment: str) -> None:
        """One conflated quote (called by the process's QuoteHub): becomes the symbol's pending
        update unless the client already has something as new."""
        if symbol not in self.symbols or ts <= self.quote_ts.get(symbol, ""):
            return
        self.quote_ts[symbol] = ts
        self.pending_quotes[symbol] = fragment
        self.wake.set()

    async def quote_update(self, event: dict[str, Any]) -> None:
        """A `quote.update` sent to this connection's own channel (the hub normally handles them)."""
        self.quote_push(*quote_fields(event))

    async def order_update(self, event: dict[str, Any]) -> None:
        """One order event from `orders.updates` (`type: order.update`)."""
        account, payload = str(event["account_id"]), event["payload"]
        if account not in self.last_seq:
            return
        seq = int(payload["seq"])
        last = self.last_seq[account]
        if last is not None and seq <= last:
            return
        if last is not None and seq > last + 1:
            await self._replay(account, upto=seq - 1)
            if (self.last_seq[account] or 0) >= seq:
                return
        self.last_seq[account] = seq
        self._queue({"type": "trade_update", "account_id": account, "seq": seq, "data": payload})

    async def _replay(self, account: str, *, upto: int | None) -> None:
        while not self.closing:
            after = self.last_seq[account] or 0
            events = await database_sync_to_async(selectors.order_events_after)(
                account_id=account, after=after, upto=upto, limit=REPLAY_CHUNK)
            for seq, payload in events:
                await self._queue_waiting({"type": "trade_update", "account_id": account, "seq": seq,
                                           "data": payload, "replay": True})
                self.last_seq[account] = seq
            if len(events) < REPLAY_CHUNK:
                return

    # --- writing ---------------------------------------------------------------------------------

    def _queue(self, frame: dict[str, Any]) -> None:
        if self.closing:
            return
        if len(self.frames) >= MAX_QUEUED_FRAMES:
            self.closing = True
            logger.info("closing slow stream consumer %s", self.channel_name)
            asyncio.ensure_future(self.close(code=CLOSE_SLOW_CONSUMER))  # noqa: RUF006
            return
        self.frames.append(json.dumps(frame, separators=(",", ":"), default=str))
        self.wake.set()

    async def _queue_waiting(self, frame: dict[str, Any]) -> None:
        """Queue a replayed frame, waiting for room instead of overflowing (backpressure on replay)."""
        while len(self.frames) >= MAX_QUEUED_FRAMES // 2 and not self.closing:
            self.room.clear()
            await self.room.wait()
        self._queue(frame)

    async def _heartbeat_loop(self) -> None:
        """Asks the writer for a heartbeat after HEARTBEAT_SECONDS without a write. A separate
        sleeper instead of a timeout around every writer wait: that timeout was ~7% of the web
        process's CPU at 1,000 connections."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(max(0.0, self.last_write + HEARTBEAT_SECONDS - loop.time()))
            if loop.time() - self.last_write >= HEARTBEAT_SECONDS:
                self.last_write = loop.time()  # one request per period, even while the writer is blocked
                self.heartbeat_due = True
                self.wake.set()

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                await self.wake.wait()
                if self.heartbeat_due:
                    self.heartbeat_due = False
                    if not self.frames and not self.pending_quotes:
                        self.wake.clear()
                        await self.send(text_data=json.dumps({"type": "heartbeat", "ts": _now()}))
                        self.last_write = loop.time()
                        continue
                if not self.frames:
                    await asyncio.sleep(BATCH_SECONDS)
                self.wake.clear()
                while self.frames:
                    await self.send(text_data=self.frames.popleft())
                    if len(self.frames) < MAX_QUEUED_FRAMES // 2:
                        self.room.set()
                self.room.set()
                if self.pending_quotes:
                    batch, self.pending_quotes = self.pending_quotes, {}
                    await self.send(text_data='{"type":"quotes","data":[' + ",".join(batch.values()) + "]}")
                self.last_write = loop.time()
        except asyncio.CancelledError:
            raise
        except Exception:
            # The socket went away under the writer; disconnect() cleans up.
            logger.debug("stream writer stopped", exc_info=True)
