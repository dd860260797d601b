"""Fanout: `market.quotes` -> conflate per symbol -> channel layer group `quotes.<SYM>`.

Several fanout processes share the topic as one consumer group (`fanout`), each owning the symbols
of its partitions; every web node receives the group messages through the channel layer. Within a
window (FANOUT_WINDOW_MS, 50 ms by default) only the merged latest state of each symbol goes out.

Also `orders.updates` -> group `orders.<account_id>` (order_updates_run): those events were
committed before the outbox relay published them, so nothing here runs inside a transaction.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from typing import Any

from channels.layers import get_channel_layer
from confluent_kafka import Consumer, KafkaError
from django.conf import settings

from apps.realtime.consumers import SYMBOL_PATTERN, account_group
from apps.realtime.hub import quote_group, quote_message
from workers.heartbeat import heartbeat_beat
from workers.kafka import consumer, decode, topics_ensure

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 3.0
WINDOW_SECONDS = getattr(settings, "FANOUT_WINDOW_MS", 50) / 1000


def quote_merge(state: dict[str, Any] | None, payload: dict[str, Any]) -> tuple[dict[str, Any] | None, int]:
    """Fold one MarketData payload into the pending state of its symbol; return it and the number
    of entries (ticks) it carried. Later entries win; `ts` is the newest entry's timestamp."""
    symbol = str(payload.get("symbol", "")).upper()
    if not SYMBOL_PATTERN.match(symbol):
        return state, 0
    merged = dict(state or {"symbol": symbol, "ts": ""})
    ticks = 0
    for quote in payload.get("quotes") or []:
        merged.update(bid=str(quote["bid"]), ask=str(quote["ask"]), bid_size=str(quote.get("bid_size", "0")),
                      ask_size=str(quote.get("ask_size", "0")))
        merged["ts"] = max(merged["ts"], str(quote["ts"]))
        ticks += 1
    for trade in payload.get("trades") or []:
        merged.update(last=str(trade["price"]), last_size=str(trade.get("size", "0")))
        merged["ts"] = max(merged["ts"], str(trade["ts"]))
        ticks += 1
    return (merged if ticks else state), ticks


class _Poller:
    """Runs the blocking Kafka poll in a thread so the event loop keeps sending."""

    def __init__(self, kafka: Consumer) -> None:
        self.kafka = kafka

    def poll(self, timeout: float) -> list[Any]:
        return self.kafka.consume(num_messages=1000, timeout=timeout)


def _subscribe(kafka: Consumer, topic: str, ready: threading.Event | None) -> None:
    def on_assign(_consumer: Consumer, partitions: list[Any]) -> None:
        if ready is not None and partitions:
            ready.set()

    kafka.subscribe([topic], on_assign=on_assign)


async def _fanout_loop(stop: threading.Event, name: str, group_id: str, ready: threading.Event | None) -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("CHANNEL_LAYERS is not configured")
    kafka = consumer(group_id=group_id, **{"enable.auto.commit": True, "auto.offset.reset": "latest"})
    _subscribe(kafka, settings.TOPIC_MARKET_QUOTES, ready)
    poller = _Poller(kafka)
    loop = asyncio.get_running_loop()
    pending: dict[str, dict[str, Any]] = {}
    ticks_in = updates_out = frames_out = 0
    window_started = time.monotonic()
    last_beat = 0.0
    try:
        while not stop.is_set():
            timeout = max(0.001, WINDOW_SECONDS - (time.monotonic() - window_started))
            messages = await loop.run_in_executor(None, poller.poll, timeout)
            for message in messages:
                if message.error():
                    if message.error().code() != KafkaError._PARTITION_EOF:
                        logger.warning("fanout: %s", message.error())
                    continue
                try:
                    envelope = decode(message.value() or b"{}")
                    payload = envelope.get("payload", envelope)
                    symbol = str(payload.get("symbol", "")).upper()
                    state, ticks = quote_merge(pending.get(symbol), payload)
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    logger.error("fanout: skipping bad message at %s: %s", message.offset(), exc)
                    continue
                if state is not None:
                    pending[symbol] = state
                ticks_in += ticks
            now = time.monotonic()
            if now - window_started >= WINDOW_SECONDS:
                window_started = now
                if pending:
                    batch, pending = pending, {}
                    await asyncio.gather(*(
                        layer.group_send(quote_group(symbol), quote_message(quote))
                        for symbol, quote in batch.items()
                    ))
                    updates_out += len(batch)
                    frames_out += 1
            if now - last_beat >= HEARTBEAT_SECONDS:
                details = {"ticks_in": ticks_in, "updates_out": updates_out, "flushes": frames_out}
                await loop.run_in_executor(None, functools.partial(heartbeat_beat, name=name, details=details))
                last_beat = now
    finally:
        kafka.close()


def fanout_run(*, stop: threading.Event, name: str = "fanout", group_id: str = "fanout",
               ready: threading.Event | None = None) -> None:
    """Run until `stop`; `ready` is set once partitions are assigned (tests wait for it)."""
    topics_ensure()
    asyncio.run(_fanout_loop(stop, name, group_id, ready))


async def _order_updates_loop(stop: threading.Event, name: str, group_id: str, ready: threading.Event | None) -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("CHANNEL_LAYERS is not configured")
    kafka = consumer(group_id=group_id, **{"auto.offset.reset": "latest"})
    _subscribe(kafka, settings.TOPIC_ORDERS_UPDATES, ready)
    poller = _Poller(kafka)
    loop = asyncio.get_running_loop()
    delivered = 0
    last_beat = 0.0
    try:
        while not stop.is_set():
            messages = await loop.run_in_executor(None, poller.poll, 0.2)
            sends = []
            for message in messages:
                if message.error():
                    if message.error().code() != KafkaError._PARTITION_EOF:
                        logger.warning("order updates: %s", message.error())
                    continue
                try:
                    envelope = decode(message.value() or b"{}")
                    account_id = str(envelope["account_id"])
                    payload = envelope["payload"]
                    int(payload["seq"])
                except (ValueError, KeyError, TypeError) as exc:
                    logger.error("order updates: skipping bad message at %s: %s", message.offset(), exc)
                    continue
                sends.append(layer.group_send(account_group(account_id),
                                              {"type": "order.update", "account_id": account_id, "payload": payload}))
            # In order: one account's events are in one partition, and group_send keeps their order.
            for send in sends:
                await send
            delivered += len(sends)
            if sends:
                try:
                    await loop.run_in_executor(None, lambda: kafka.commit(asynchronous=False))
                except Exception:
                    logger.warning("order updates: offset commit failed; events may be re-sent (clients dedupe by seq)")
            now = time.monotonic()
            if now - last_beat >= HEARTBEAT_SECONDS:
                details = {"delivered": delivered}
                await loop.run_in_executor(None, functools.partial(heartbeat_beat, name=name, details=details))
                last_beat = now
    finally:
        kafka.close()


def order_updates_run(*, stop: threading.Event, name: str = "order_updates", group_id: str = "realtime-orders",
                      ready: threading.Event | None = None) -> None:
    topics_ensure()
    asyncio.run(_order_updates_loop(stop, name, group_id, ready))
