"""Quote store: consume `market.quotes` (consumer group `quote-store`), keep the latest quote and
the 1-minute / daily bars in Redis, flush daily bars to PostgreSQL. No domain rules here: the
arithmetic is apps.marketdata.services."""

from __future__ import annotations

import logging
import threading
import time

from confluent_kafka import Consumer, KafkaError, Message
from django.conf import settings

from apps.marketdata.services import MarketDataError, daily_bars_flush, quote_apply
from workers.heartbeat import heartbeat_beat
from workers.kafka import consumer, decode, topics_ensure

logger = logging.getLogger(__name__)

GROUP_ID = "quote-store"
HEARTBEAT_SECONDS = 3.0
FLUSH_SECONDS = 2.0


def _apply(message: Message) -> bool:
    try:
        quote_apply(message=decode(message.value() or b"{}"))
    except (MarketDataError, ValueError, KeyError, TypeError, AttributeError) as exc:
        # A corrupt message must not wedge the partition; it is logged with its position.
        logger.error("quote store: skipping bad message %s[%s]@%s: %s",
                     message.topic(), message.partition(), message.offset(), exc)
        return False
    return True


def quote_store_run(*, stop: threading.Event, name: str = "quote_store", group_id: str = GROUP_ID,
                    ready: threading.Event | None = None, offset_reset: str = "earliest") -> None:
    """Run until `stop`; `ready` is set once partitions are assigned (tests wait for it). A new
    group starts at the beginning of the topic unless `offset_reset` says "latest"."""
    topics_ensure()
    kafka = consumer(group_id=group_id, **{"auto.offset.reset": offset_reset})

    def on_assign(_consumer: Consumer, partitions: list) -> None:
        if ready is not None and partitions:
            ready.set()

    kafka.subscribe([settings.TOPIC_MARKET_QUOTES], on_assign=on_assign)
    applied = errors = 0
    last_beat = last_flush = 0.0
    try:
        while not stop.is_set():
            messages = kafka.consume(num_messages=500, timeout=0.5)
            for message in messages:
                if message.error():
                    if message.error().code() != KafkaError._PARTITION_EOF:
                        logger.warning("quote store: %s", message.error())
                    continue
                if _apply(message):
                    applied += 1
                else:
                    errors += 1
            if messages:
                # Offsets are committed only after Redis holds the batch (at-least-once; the
                # service dedupes replays by event id).
                kafka.commit(asynchronous=False)
            now = time.monotonic()
            if now - last_flush >= FLUSH_SECONDS:
                try:
                    daily_bars_flush()
                except Exception:
                    logger.exception("quote store: daily bar flush failed, will retry")
                last_flush = now
            if now - last_beat >= HEARTBEAT_SECONDS:
                heartbeat_beat(name=name, details={"applied": applied, "errors": errors})
                last_beat = now
        daily_bars_flush()
    finally:
        kafka.close()
