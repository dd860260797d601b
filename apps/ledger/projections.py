"""Read models built from `ledger.events` (JournalPosted envelopes): account activities in Alpaca's
shape and end-of-day balances. Applying an event twice changes nothing (dedupe by event id), and
the result depends only on the events, so a replay into empty tables reproduces it."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from .models import Activity, DailyBalance, ProjectedEvent

CASH_CODES = ("cash.available", "cash.held")
NON_TRADE = {"deposit": "CSD", "withdrawal": "CSW", "fee": "FEE"}


def _activity_id(at: datetime, transaction_id: str) -> str:
    # Alpaca's format: a sortable timestamp, "::", a UUID.
    return f"{at.strftime('%Y%m%d%H%M%S')}{at.microsecond // 1000:03d}::{transaction_id}"


def _number(text: str) -> str:
    value = Decimal(text)
    return f"{value.normalize():f}" if value else "0"


def projection_apply(*, envelope: dict[str, Any]) -> bool:
    """Apply one JournalPosted envelope; return False if it was already applied (or not ours)."""
    if envelope.get("type") != "JournalPosted" or not envelope.get("account_id"):
        return False
    try:
        with transaction.atomic():
            ProjectedEvent.objects.create(event_id=uuid.UUID(envelope["event_id"]))
            _apply(envelope)
    except IntegrityError:
        return False  # already applied: the event id exists
    return True


def _apply(envelope: dict[str, Any]) -> None:
    payload = envelope["payload"]
    account_id = envelope["account_id"]
    at = datetime.fromisoformat(payload["created_at"])
    details = payload.get("details") or {}
    kind = payload["kind"]
    cash_delta = sum((Decimal(p["amount"]) for p in payload["postings"]
                      if p["account_id"] == account_id and p["code"] in CASH_CODES), Decimal("0"))
    cost_delta = Decimal("0")
    realized = Decimal("0")
    if kind == "fill":
        cost = Decimal(details["cost"])
        realized = Decimal(details.get("realized_pl") or "0")
        cost_delta = cost if details["side"] == "buy" else -(cost - realized)
        Activity.objects.create(
            activity_id=_activity_id(at, payload["transaction_id"]), account_id=account_id,
            activity_type="FILL", occurred_at=at,
            data={
                "id": _activity_id(at, payload["transaction_id"]), "account_id": account_id,
                "activity_type": "FILL", "transaction_time": details.get("transaction_time") or at.isoformat(),
                "type": details["type"], "price": _number(details["price"]), "qty": _number(details["qty"]),
                "side": details["side"], "symbol": details["symbol"], "leaves_qty": _number(details["leaves_qty"]),
                "order_id": details["order_id"], "cum_qty": _number(details["cum_qty"]),
                "order_status": details["order_status"],
            },
        )
    elif kind in NON_TRADE:
        activity_type = NON_TRADE[kind]
        Activity.objects.create(
            activity_id=_activity_id(at, payload["transaction_id"]), account_id=account_id,
            activity_type=activity_type, occurred_at=at,
            data={
                "id": _activity_id(at, payload["transaction_id"]), "account_id": account_id,
                "activity_type": activity_type, "date": at.date().isoformat(), "net_amount": _number(str(cash_delta)),
                "description": details.get("description", ""), "status": "executed",
            },
        )
    day = at.date()
    row = DailyBalance.objects.select_for_update().filter(account_id=account_id, date=day).first()
    if row is None:
        previous = DailyBalance.objects.filter(account_id=account_id, date__lt=day).order_by("-date").first()
        row = DailyBalance(account_id=account_id, date=day,
                           cash=previous.cash if previous else Decimal("0"),
                           positions_cost=previous.positions_cost if previous else Decimal("0"))
    row.cash += cash_delta
    row.positions_cost += cost_delta
    row.realized_pl += realized
    if kind == "deposit":
        row.deposits += cash_delta
    elif kind == "withdrawal":
        row.withdrawals += cash_delta
    elif kind == "fee":
        row.fees += cash_delta
    row.save()


def projections_reset() -> None:
    """Empty the read models (before a replay from the start of the topic)."""
    with transaction.atomic():
        Activity.objects.all().delete()
        DailyBalance.objects.all().delete()
        ProjectedEvent.objects.all().delete()
