"""confluent-kafka client factories shared by every worker and the outbox relay.

One place decides client settings so that each worker behaves the same against Tansu in dev
and a real Kafka cluster in production.
"""

from __future__ import annotations

import json
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from django.conf import settings


def base_config() -> dict[str, Any]:
    return {"bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS}


def producer(**overrides: Any) -> Producer:
    """An idempotent producer: acks=all, retries without duplicates or reordering."""
    config = {
        **base_config(),
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 2,
        "compression.type": "none",
        **overrides,
    }
    return Producer(config)


def consumer(*, group_id: str, **overrides: Any) -> Consumer:
    """A consumer that commits offsets only when the worker says so (after it applied a batch)."""
    config = {
        **base_config(),
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": settings.KAFKA_SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": max(1000, settings.KAFKA_SESSION_TIMEOUT_MS // 3),
        "fetch.wait.max.ms": settings.KAFKA_FETCH_WAIT_MS,
        **overrides,
    }
    return Consumer(config)


def topics_ensure(*, topics: dict[str, int] | None = None, timeout: float = 10.0) -> list[str]:
    """Create the platform's topics when missing; return the ones created."""
    wanted = topics if topics is not None else settings.KAFKA_TOPICS
    # Quiet librdkafka's own connection logging here: the caller reports one clear error instead.
    admin = AdminClient({**base_config(), "log_level": 0})
    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [NewTopic(name, num_partitions=partitions, replication_factor=1)
               for name, partitions in wanted.items() if name not in existing]
    created: list[str] = []
    if missing:
        for name, future in admin.create_topics(missing, operation_timeout=timeout).items():
            try:
                future.result()
                created.append(name)
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise
    return created


def encode(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode()


def decode(raw: bytes) -> dict[str, Any]:
    return json.loads(raw)
