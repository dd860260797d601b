"""Ledger projector: consumes `ledger.events` and maintains the read models (apps.ledger.projections).
Offsets are committed after a batch is applied; duplicates from at-least-once delivery are skipped
by event id, so a crash between applying and committing is harmless."""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from django.conf import settings
from django.db import connection

from apps.ledger.projections import projection_apply
from workers.heartbeat import heartbeat_beat
from workers.kafka import consumer, decode

logger = logging.getLogger(__name__)


class LedgerProjector:
    def __init__(self, *, name: str = "projector", group_id: str = "ledger-projector") -> None:
        self.name = name
        self.stop = threading.Event()
        self.applied = 0
        self.skipped = 0
        self._consumer = consumer(group_id=group_id)

    def run(self) -> None:
        self._consumer.subscribe([settings.TOPIC_LEDGER_EVENTS])
        last_beat = 0.0
        try:
            while not self.stop.is_set():
                if time.monotonic() - last_beat > 3:
                    heartbeat_beat(name=self.name, details={"applied": self.applied, "skipped": self.skipped})
                    last_beat = time.monotonic()
                messages = self._consumer.consume(num_messages=200, timeout=1.0)
                if not messages:
                    continue
                for message in messages:
                    if message.error():
                        logger.warning("projector: %s", message.error())
                        continue
                    try:
                        applied = projection_apply(envelope=decode(message.value()))
                    except Exception:
                        logger.exception("projector: event at offset %s failed; will retry", message.offset())
                        connection.close()
                        raise
                    if applied:
                        self.applied += 1
                    else:
                        self.skipped += 1
                self._consumer.commit(asynchronous=False)
        finally:
            self._consumer.close()


def run_ledger_projector() -> None:
    projector = LedgerProjector()

    def handle(signum: int, frame: Any) -> None:
        projector.stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    while not projector.stop.is_set():
        try:
            projector.run()
        except Exception:
            logger.exception("projector crashed; restarting from the last committed offset")
            time.sleep(2)
            if not projector.stop.is_set():
                projector = LedgerProjector()
