"""Per-process quote hub: one channel-layer member per web process for all quote groups.

Without it every connection joins `quotes.<SYM>` itself, and every quote reaches every connection
through Channels' per-consumer machinery: a queue put, a msgpack decode, a new receive task and a
dispatch per message per connection. At 1,000 connections x 20 symbols that per-client overhead is
most of the web process's CPU. The hub joins each quote group once per process (on first local
subscriber, leaves on the last), receives each fanout message once, and hands the pre-encoded JSON
fragment to the local subscribers with a plain method call (`StreamConsumer.quote_push`), which
only records it as the symbol's pending quote and wakes the connection's writer.

Several web processes / nodes each run their own hub; the channel layer delivers every group
message to each of them, so the multi-node property of the channel layer is unchanged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from typing import Any, Protocol

logger = logging.getLogger(__name__)

# RedisChannelLayer expires group memberships (group_expiry, one day by default): rejoin well before.
REJOIN_SECONDS = 3600.0


class QuoteSink(Protocol):
    def quote_push(self, symbol: str, ts: str, fragment: str) -> None: ...


def quote_group(symbol: str) -> str:
    return f"quotes.{symbol}"


def quote_message(quote: dict[str, Any]) -> dict[str, Any]:
    """The channel-layer message the fanout sends for one conflated quote: the JSON text of the
    quote object is encoded once here and forwarded as-is into every subscriber's frame."""
    return {"type": "quote.update", "symbol": quote["symbol"], "ts": quote["ts"],
            "json": json.dumps(quote, separators=(",", ":"))}


def quote_fields(message: dict[str, Any]) -> tuple[str, str, str]:
    """(symbol, ts, JSON fragment) of a `quote.update` message (also accepts the older
    `{"quote": {...}}` form, encoding it here)."""
    if "json" in message:
        return str(message["symbol"]), str(message["ts"]), str(message["json"])
    quote = message["quote"]
    return str(quote["symbol"]), str(quote["ts"]), json.dumps(quote, separators=(",", ":"))


class QuoteHub:
    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.members: dict[str, set[QuoteSink]] = {}
        self.joined: set[str] = set()
        self.lock = asyncio.Lock()  # serializes layer group membership changes
        self.channel: str | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.received = 0

    async def join(self, sink: QuoteSink, symbols: list[str]) -> None:
        """Returns once the process is a member of every symbol's group (updates flow from then on)."""
        async with self.lock:
            channel = await self._channel()
            for symbol in symbols:
                if symbol not in self.joined:
                    await self.layer.group_add(quote_group(symbol), channel)
                    self.joined.add(symbol)
                self.members.setdefault(symbol, set()).add(sink)

    async def leave(self, sink: QuoteSink, symbols: list[str]) -> None:
        async with self.lock:
            for symbol in symbols:
                members = self.members.get(symbol)
                if members is None:
                    continue
                members.discard(sink)
                if not members:
                    del self.members[symbol]
                    if symbol in self.joined and self.channel is not None:
                        self.joined.discard(symbol)
                        await self.layer.group_discard(quote_group(symbol), self.channel)

    async def _channel(self) -> str:
        if self.channel is None:
            # The default prefix: RedisChannelLayer drains one Redis key per process-local prefix
            # with one shared receiver, so a second prefix would starve.
            self.channel = await self.layer.new_channel()
            self.tasks = [asyncio.create_task(self._receive_loop()), asyncio.create_task(self._rejoin_loop())]
        return self.channel

    async def _receive_loop(self) -> None:
        channel = self.channel
        if channel is None:
            raise RuntimeError("the quote hub has no channel yet")
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("quote hub: channel layer receive failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if message.get("type") != "quote.update":
                continue
            self.received += 1
            try:
                symbol, ts, fragment = quote_fields(message)
            except (KeyError, TypeError):
                logger.error("quote hub: malformed quote.update %r", message)
                continue
            for sink in tuple(self.members.get(symbol, ())):
                try:
                    sink.quote_push(symbol, ts, fragment)
                except Exception:
                    logger.exception("quote hub: a subscriber failed on %s", symbol)

    async def _rejoin_loop(self) -> None:
        while True:
            await asyncio.sleep(REJOIN_SECONDS)
            async with self.lock:
                for symbol in tuple(self.joined):
                    try:
                        await self.layer.group_add(quote_group(symbol), self.channel)
                    except Exception:
                        logger.exception("quote hub: rejoining %s failed", symbol)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, QuoteHub] = weakref.WeakKeyDictionary()


def quote_hub(layer: Any) -> QuoteHub:
    """The hub of the running event loop (one per web process; tests run servers in threads)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = QuoteHub(layer)
    return hub
