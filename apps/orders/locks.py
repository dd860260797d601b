"""Order row locks; always taken after the account lock (apps.ledger.locks.account_lock)."""

from __future__ import annotations

import uuid

from django.db import connection

from apps.ops.db import hot_cursor, instance_from_row, select_sql

from .models import Order


def order_lock(*, account_id: uuid.UUID, order_id: uuid.UUID) -> Order | None:
    """Lock and return the account's order, or None when it does not exist (or is someone else's).

    FOR NO KEY UPDATE: the row's key never changes, so rows that reference it (executions, events)
    can still be inserted by others meanwhile."""
    if not connection.in_atomic_block:
        raise RuntimeError("order_lock must run inside a transaction")
    sql, names = select_sql(Order)
    with hot_cursor() as cursor:
        cursor.execute(sql + " WHERE id = %s AND account_id = %s FOR NO KEY UPDATE", [order_id, account_id])
        row = cursor.fetchone()
    return instance_from_row(Order, names, row) if row is not None else None
