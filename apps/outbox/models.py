"""Transactional outbox: rows written in the same transaction as the state change they announce.

The relay (workers/outbox_relay.py) publishes committed rows to Kafka and marks them sent only
after the broker acknowledged them, so delivery is at-least-once; `event_id` lets consumers dedupe.
"""

from __future__ import annotations

import uuid

from django.db import models


class OutboxMessage(models.Model):
    id = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    topic = models.CharField(max_length=200)
    key = models.CharField(max_length=100)
    type = models.CharField(max_length=64)
    account_id = models.UUIDField(null=True, blank=True)
    payload = models.JSONField()
    occurred_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "outbox_message"
        ordering = ["id"]
        indexes = [
            # The relay's hot query: the oldest unsent rows.
            models.Index(fields=["id"], name="outbox_unsent_idx", condition=models.Q(sent_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.type} -> {self.topic}"

    def envelope(self) -> dict:
        """The Kafka message value (docs/events.md)."""
        return {
            "event_id": str(self.event_id),
            "type": self.type,
            "occurred_at": self.occurred_at.isoformat(),
            "account_id": str(self.account_id) if self.account_id else None,
            "payload": self.payload,
        }
