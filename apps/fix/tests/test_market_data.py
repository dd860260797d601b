"""The market-data session for real: venue acceptor -> 35=W/X -> ingestor initiator -> Kafka."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path

from confluent_kafka import TopicPartition
from django.conf import settings

from apps.fix.md_ingestor import MarketDataIngestor
from apps.fix.tests.conftest import endpoint, wait_for
from workers import kafka


def test_ingestor_publishes_snapshots_increments_and_trades(venue_factory, specs, tmp_path: Path) -> None:
    symbols = [f"M{uuid.uuid4().hex[:5].upper()}" for _ in range(3)]
    venue = venue_factory(symbols=symbols, md_interval=0.05)
    kafka.topics_ensure()
    topic = settings.TOPIC_MARKET_QUOTES
    ingestor = MarketDataIngestor(spec=specs.md, endpoint=endpoint(tmp_path / "md"), symbols=lambda: symbols,
                                  producer=kafka.producer(), log_messages=False)
    ingestor.start()
    try:
        wait_for(lambda: ingestor.stats.events_published >= 30, what="market data events")
        # A trade between two customers prints on the tape.
        ask = venue.top_of_book(symbols[0])[1]
        venue.customer_order(symbol=symbols[0], side="buy", qty="100")
        wait_for(lambda: ingestor.stats.events_published >= 60, what="more events")
    finally:
        ingestor.stop()
    # The venue batches the symbols' refreshes into shared 35=X messages (10 symbols a message by
    # default), and the ingestor turns each symbol of a message into its own event.
    assert ingestor.stats.events_published >= 2 * ingestor.stats.messages
    consumer = kafka.consumer(group_id=f"md-test-{uuid.uuid4().hex[:8]}")
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    events: dict[str, list[dict]] = {s: [] for s in symbols}
    idle = 0
    while idle < 10:
        message = consumer.poll(0.5)
        if message is None or message.error():
            idle += 1
            continue
        idle = 0
        key = message.key().decode()
        if key in events:
            envelope = json.loads(message.value())
            assert envelope["payload"]["symbol"] == key and envelope["type"] == "MarketData"
            uuid.UUID(envelope["event_id"])
            events[key].append(envelope)
    consumer.close()
    for symbol in symbols:
        assert len(events[symbol]) >= 5, symbol
        for envelope in events[symbol]:
            payload = envelope["payload"]
            bids = [(Decimal(p), Decimal(q)) for p, q in payload["depth"]["bids"]]
            asks = [(Decimal(p), Decimal(q)) for p, q in payload["depth"]["asks"]]
            assert len(bids) == 5 and len(asks) == 5
            assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
            assert [p for p, _ in asks] == sorted(p for p, _ in asks)
            assert bids[0][0] < asks[0][0]
            quote = payload["quotes"][-1]
            assert Decimal(quote["bid"]) == bids[0][0] and Decimal(quote["ask"]) == asks[0][0]
    moved = [len({e["payload"]["quotes"][-1]["bid"] for e in events[s]}) > 1 for s in symbols]
    assert any(moved), "the fair price should random-walk"
    trades = [t for e in events[symbols[0]] for t in e["payload"]["trades"]]
    assert trades and Decimal(trades[0]["price"]) == ask and sum(Decimal(t["size"]) for t in trades) == Decimal(100)
