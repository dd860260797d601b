"""The per-process caches and the quote hub behind /ws/stream's hot path (real PostgreSQL and Redis)."""

from __future__ import annotations

import asyncio
import uuid

from channels.layers import get_channel_layer

from apps.instruments.models import Instrument, InstrumentStatus
from apps.realtime import selectors
from apps.realtime.hub import quote_hub, quote_message
from apps.realtime.tests.conftest import Committed
from tests.factories import InstrumentFactory


def _symbol() -> str:
    return f"H{uuid.uuid4().hex[:6].upper()}"


def test_symbol_cache_serves_hits_without_the_database_and_picks_up_new_listings(committed: Committed) -> None:
    selectors._known.loaded_at = float("-inf")
    listed = committed.add(InstrumentFactory(symbol=_symbol()))
    symbol = str(listed.symbol)
    # Listed after the cache was (re)loaded: found through the miss lookup at once.
    assert asyncio.run(selectors.known_symbols_cached(symbols=[symbol, "NOSUCHSYM"])) == {symbol}
    Instrument.objects.filter(pk=listed.pk).update(status=InstrumentStatus.INACTIVE)
    # A hit is answered from the cache (the documented staleness until the next reload) ...
    assert asyncio.run(selectors.known_symbols_cached(symbols=[symbol])) == {symbol}
    # ... and the reload drops the delisted symbol.
    selectors._known.loaded_at = float("-inf")
    assert asyncio.run(selectors.known_symbols_cached(symbols=[symbol])) == set()


class _Sink:
    def __init__(self) -> None:
        self.got: list[tuple[str, str, str]] = []

    def quote_push(self, symbol: str, ts: str, fragment: str) -> None:
        self.got.append((symbol, ts, fragment))


def test_quote_hub_delivers_each_group_message_to_local_subscribers_only_until_they_leave(
        committed: Committed) -> None:
    first, second = _symbol(), _symbol()

    async def scenario() -> tuple[_Sink, _Sink]:
        layer = get_channel_layer()
        hub = quote_hub(layer)
        a, b = _Sink(), _Sink()
        await hub.join(a, [first, second])
        await hub.join(b, [first])

        async def send(symbol: str, ts: str) -> None:
            await layer.group_send(f"quotes.{symbol}", quote_message({"symbol": symbol, "ts": ts, "bid": "1.5"}))

        async def settle(sink: _Sink, count: int) -> None:
            for _ in range(100):
                if len(sink.got) >= count:
                    return
                await asyncio.sleep(0.05)

        await send(first, "t1")
        await send(second, "t2")
        await settle(a, 2)
        await settle(b, 1)
        await hub.leave(a, [first, second])
        await send(first, "t3")
        await settle(b, 2)
        await asyncio.sleep(0.2)
        await hub.leave(b, [first])
        return a, b

    a, b = asyncio.run(scenario())
    assert [got[:2] for got in a.got] == [(first, "t1"), (second, "t2")]  # nothing after it left
    assert a.got[0][2] == f'{{"symbol":"{first}","ts":"t1","bid":"1.5"}}'  # the fanout's encoding, as-is
    assert [got[:2] for got in b.got] == [(first, "t1"), (first, "t3")]  # only its symbol, after `a` left too
