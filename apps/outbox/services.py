"""Writes to the transactional outbox. Callers are services already inside their transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from apps.ops.db import hot_cursor

from .models import OutboxMessage


def outbox_enqueue(*, topic: str, type: str, key: str, payload: dict[str, Any],
                   account_id: uuid.UUID | None = None, occurred_at: datetime | None = None) -> OutboxMessage:
    """Queue one event for Kafka; it is published only if the surrounding transaction commits."""
    return outbox_enqueue_many(messages=[{
        "topic": topic, "type": type, "key": key, "payload": payload,
        "account_id": account_id, "occurred_at": occurred_at,
    }])[0]


_INSERT_SQL = ("INSERT INTO outbox_message (event_id, topic, key, type, account_id, payload, occurred_at) VALUES ")
_ROW_SQL = "(%s, %s, %s, %s, %s, %s, %s)"


def outbox_enqueue_many(*, messages: Iterable[dict[str, Any]]) -> list[OutboxMessage]:
    """Queue several events in one INSERT, in order (the relay publishes by id). Plain SQL: every
    order and fill writes here, and the ORM's bulk_create cost more CPU than the insert itself."""
    if not connection.in_atomic_block:
        raise RuntimeError("outbox rows must be written inside the transaction of the change they announce")
    now = timezone.now()
    rows = [
        OutboxMessage(
            event_id=uuid.uuid4(), topic=m["topic"], type=m["type"], key=str(m["key"]),
            payload=m["payload"], account_id=m.get("account_id"), occurred_at=m.get("occurred_at") or now,
        )
        for m in messages
    ]
    if not rows:
        return rows
    params: list[Any] = []
    for row in rows:
        params += [row.event_id, row.topic, row.key, row.type, row.account_id, Jsonb(row.payload), row.occurred_at]
    with hot_cursor() as cursor:
        cursor.execute(_INSERT_SQL + ", ".join([_ROW_SQL] * len(rows)) + " RETURNING id", params)
        ids = [row_id for (row_id,) in cursor.fetchall()]
    for row, row_id in zip(rows, ids, strict=True):
        row.id = row_id
        row._state.adding = False
        row._state.db = connection.alias
    return rows


def outbox_mark_sent(*, ids: list[int]) -> int:
    """Mark rows delivered (called by the relay after the broker acknowledged them)."""
    if not ids:
        return 0
    with transaction.atomic():
        return OutboxMessage.objects.filter(id__in=ids, sent_at__isnull=True).update(sent_at=timezone.now())
