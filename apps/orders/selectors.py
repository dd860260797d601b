"""Reads of orders for the API, the web UI and the realtime replay."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db.models import QuerySet

from apps.accounts.models import Account

from .models import Order, OrderEvent
from .state import OPEN_STATUSES, TERMINAL_STATUSES


def orders_for_account(*, account: Account, status: str | None = None, limit: int = 50,
                       after: datetime | None = None, until: datetime | None = None,
                       direction: str = "desc", symbols: list[str] | None = None) -> QuerySet[Order]:
    """Orders of the account. `status` is Alpaca's query status: "open", "closed", "all" (or None
    for open, Alpaca's default), or one exact order status."""
    query = Order.objects.filter(account=account).select_related("instrument")
    wanted = status or "open"
    if wanted == "open":
        query = query.filter(status__in=OPEN_STATUSES)
    elif wanted == "closed":
        query = query.filter(status__in=TERMINAL_STATUSES)
    elif wanted != "all":
        query = query.filter(status=wanted)
    if after:
        query = query.filter(created_at__gt=after)
    if until:
        query = query.filter(created_at__lt=until)
    if symbols:
        query = query.filter(symbol__in=[s.upper() for s in symbols])
    order = ["created_at", "id"] if direction == "asc" else ["-created_at", "-id"]
    return query.order_by(*order)[: max(1, min(limit, 500))]


def order_get(*, account: Account, order_id: uuid.UUID | str) -> Order | None:
    try:
        key = uuid.UUID(str(order_id))
    except ValueError:
        return None
    return Order.objects.filter(account=account, id=key).first()


def order_by_client_order_id(*, account: Account, client_order_id: str) -> Order | None:
    return Order.objects.filter(account=account, client_order_id=client_order_id).first()


def order_events_since(*, account: Account, after_seq: int, limit: int = 1000) -> QuerySet[OrderEvent]:
    """Order events with seq > after_seq, in order (for a reconnecting client)."""
    return OrderEvent.objects.filter(account=account, seq__gt=after_seq).order_by("seq")[:limit]
