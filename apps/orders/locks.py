"""Order row locks; always taken after the account lock (apps.ledger.locks.account_lock)."""

from __future__ import annotations

import uuid

from django.db import connection

from .models import Order


def order_lock(*, account_id: uuid.UUID, order_id: uuid.UUID) -> Order | None:
    """Lock and return the account's order, or None when it does not exist (or is someone else's)."""
    if not connection.in_atomic_block:
        raise RuntimeError("order_lock must run inside a transaction")
    return (Order.objects.order_by("pk").select_for_update(no_key=True)
            .filter(pk=order_id, account_id=account_id).first())
