"""The FIX order gateway process loop (`manage.py run_fix_gateway`).

Consumes `orders.commands`, hands each command to the QuickFIX initiator (apps/fix/gateway.py)
and commits the Kafka offset only once the message is stored in the session's FileStore. While
the session is down it stops consuming, so commands wait in Kafka, not in memory.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from confluent_kafka import TopicPartition
from django.conf import settings

from apps.fix import messages as m
from apps.fix.gateway import ApplyReport, OrderGateway
from apps.fix.sessions import Endpoint, SessionSpec, default_endpoint, order_session_spec
from workers import kafka
from workers.heartbeat import heartbeat_beat

logger = logging.getLogger(__name__)

NAME = "fix_gateway"
FETCH_WAIT_MS = 5


def consumer_lag(consumer: Any) -> int:
    lag = 0
    for partition in consumer.assignment():
        low, high = consumer.get_watermark_offsets(partition, timeout=1, cached=False)
        position = consumer.position([partition])[0].offset
        lag += max(0, high - (position if position >= 0 else low))
    return lag


class GatewayWorker:
    def __init__(self, *, spec: SessionSpec | None = None, endpoint: Endpoint | None = None,
                 apply_report: ApplyReport | None = None, group_id: str | None = None,
                 assign_partitions: bool = False) -> None:
        self.gateway = OrderGateway(
            spec=spec or order_session_spec(), endpoint=endpoint or default_endpoint("gateway"),
            apply_report=apply_report, stale_after_seconds=settings.FIX_STALE_ORDER_SECONDS,
        )
        self.group_id = group_id or settings.FIX_GATEWAY_GROUP_ID
        self.assign_partitions = assign_partitions
        self.commands_consumed = 0

    def run(self, *, stop: threading.Event) -> None:
        kafka.topics_ensure()
        gateway = self.gateway
        gateway.start()
        # Orders are latency-bound: do not let the broker hold a fetch for its default 500 ms
        # (Tansu answers a fetch only when its wait expires).
        consumer = kafka.consumer(group_id=self.group_id, **{"fetch.wait.max.ms": FETCH_WAIT_MS})
        topic = settings.TOPIC_ORDERS_COMMANDS
        if self.assign_partitions:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            consumer.assign([TopicPartition(topic, p) for p in partitions])
        else:
            consumer.subscribe([topic])
        pending = None
        next_beat = 0.0
        try:
            while not stop.is_set():
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + 2.0
                    self._beat(consumer)
                if not gateway.logged_on.is_set():
                    stop.wait(0.1)
                    continue
                message = pending or consumer.poll(0.1)
                pending = None
                if message is None:
                    continue
                if message.error():
                    logger.warning("fix gateway: consumer error %s", message.error())
                    continue
                try:
                    sent = gateway.command_send(kafka.decode(message.value()))
                except (ValueError, KeyError, TypeError, m.MessageError):
                    # A malformed command can never be sent; log it and move past it.
                    logger.exception("fix gateway: unusable command at offset %s", message.offset())
                    sent = True
                if not sent:
                    pending = message
                    stop.wait(0.1)
                    continue
                self.commands_consumed += 1
                consumer.commit(message=message, asynchronous=True)
        finally:
            consumer.close()
            gateway.stop()

    def _beat(self, consumer: Any) -> None:
        try:
            details = self.gateway.state()
            details["lag_messages"] = consumer_lag(consumer)
            heartbeat_beat(name=NAME, details=details)
        except Exception:
            logger.exception("fix gateway: heartbeat failed")


def run(*, stop: threading.Event) -> None:
    GatewayWorker().run(stop=stop)
