"""Outbox relay: publishes committed outbox rows to Kafka, oldest first, and marks them sent only
after the broker acknowledged them (idempotent producer, acks=all).

At-least-once: a crash between delivery and marking re-sends those rows after a restart; every
envelope carries `event_id` so consumers dedupe. A broker outage leaves rows waiting in the table.
Several relays may run: a transaction-scoped advisory lock lets one publish at a time, which keeps
each account's events in commit order (they share a Kafka key and partition).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from confluent_kafka import KafkaError, Message
from django.db import connection, transaction

from apps.outbox.models import OutboxMessage
from apps.outbox.services import outbox_mark_sent
from workers.heartbeat import heartbeat_beat
from workers.kafka import encode, producer

logger = logging.getLogger(__name__)

RELAY_ADVISORY_LOCK = 0x0B0C5E1A  # arbitrary constant naming "the outbox relay" in pg_locks
MESSAGE_TIMEOUT_MS = 10_000


# Served by the partial index outbox_unsent_idx.
_PENDING_SQL = "SELECT 1 FROM outbox_message WHERE sent_at IS NULL LIMIT 1"


class OutboxRelay:
    def __init__(self, *, name: str = "outbox", batch_size: int = 500, idle_sleep: float = 0.01) -> None:
        self.name = name
        self.batch_size = batch_size
        self.idle_sleep = idle_sleep
        self.stop = threading.Event()
        self.sent_total = 0
        self.failures = 0
        self._producer = self._new_producer()

    def _new_producer(self) -> Any:
        return producer(**{"message.timeout.ms": MESSAGE_TIMEOUT_MS})

    def publish_batch(self) -> int:
        """Publish one batch; return how many rows were delivered and marked sent (-1: not leader)."""
        delivered: list[int] = []
        errors: list[str] = []

        def on_delivery(row_id: int) -> Any:
            def callback(error: KafkaError | None, message: Message) -> None:
                if error is None:
                    delivered.append(row_id)
                else:
                    errors.append(str(error))
            return callback

        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [RELAY_ADVISORY_LOCK])
                (leader,) = cursor.fetchone()
            if not leader:
                return -1
            rows = list(OutboxMessage.objects.filter(sent_at__isnull=True).order_by("id")[: self.batch_size])
            if not rows:
                return 0
            for row in rows:
                while True:
                    try:
                        self._producer.produce(row.topic, key=row.key.encode(), value=encode(row.envelope()),
                                               on_delivery=on_delivery(row.id))
                        break
                    except BufferError:
                        self._producer.poll(0.1)
            remaining = self._producer.flush(MESSAGE_TIMEOUT_MS / 1000 + 5)
            outbox_mark_sent(ids=delivered)
        self.sent_total += len(delivered)
        if errors or remaining:
            self.failures += 1
            logger.warning("outbox relay: %d of %d rows not delivered (%s); they stay queued",
                           len(rows) - len(delivered), len(rows), errors[:1] or f"{remaining} in flight")
            # A fresh producer after a failed batch: never reuse one that may be in a fatal state.
            self._producer = self._new_producer()
        return len(delivered)

    def wait_for_rows(self, *, until: float) -> None:
        """Idle: poll every `idle_sleep` with one index-only probe (no transaction, no lock) until a
        row is waiting, so a new order reaches Kafka within ~idle_sleep at a few % of a core."""
        while not self.stop.is_set() and time.monotonic() < until:
            with connection.cursor() as cursor:
                cursor.execute(_PENDING_SQL)
                if cursor.fetchone() is not None:
                    return
            self.stop.wait(self.idle_sleep)

    def run(self) -> None:
        last_beat = 0.0
        backoff = 0.5
        while not self.stop.is_set():
            if time.monotonic() - last_beat > 3:
                pending = OutboxMessage.objects.filter(sent_at__isnull=True).count()
                heartbeat_beat(name=self.name, details={"sent": self.sent_total, "pending": pending,
                                                        "failures": self.failures})
                last_beat = time.monotonic()
            failures_before = self.failures
            try:
                count = self.publish_batch()
                if count < 0:  # another relay is the leader
                    self.stop.wait(1.0)
                elif self.failures > failures_before:  # the broker refused: rows stay queued
                    self.stop.wait(backoff)
                elif count == 0:
                    self.wait_for_rows(until=time.monotonic() + 3)
            except Exception:
                logger.exception("outbox relay batch failed; retrying")
                connection.close()
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 10)
                continue
            backoff = 0.5
        self._producer.flush(5)


def run_outbox_relay(*, batch_size: int = 500) -> None:
    relay = OutboxRelay(batch_size=batch_size)

    def handle(signum: int, frame: Any) -> None:
        relay.stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    logger.info("outbox relay started (batch %d)", batch_size)
    relay.run()
    logger.info("outbox relay stopped after %d messages", relay.sent_total)
