"""Day-order expiry goes through the venue: a CancelOrder command, then the venue's cancel report
finishes the order as expired and releases the hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from apps.ledger.selectors import cash_balances
from apps.orders.services import execution_apply, order_place, orders_expire_due
from apps.orders.sessions import session_close_for
from apps.orders.types import ExecutionReport
from apps.outbox.models import OutboxMessage


@pytest.mark.django_db
def test_day_order_expires_through_the_venue(funded_account, instrument):
    order = order_place(account=funded_account, symbol="XYZ", side="buy", type="limit", time_in_force="day",
                        qty="10", limit_price="9.00")
    gtc = order_place(account=funded_account, symbol="XYZ", side="buy", type="limit", time_in_force="gtc",
                      qty="1", limit_price="9.00")
    # Committed day orders of other tests share the database: assert on this test's orders only.
    orders_expire_due(now=order.submitted_at)
    order.refresh_from_db()
    assert order.expire_requested_at is None  # its session has not closed yet
    assert orders_expire_due(now=order.submitted_at + timedelta(days=1, minutes=1)) >= 1
    order.refresh_from_db()
    gtc.refresh_from_db()
    assert order.expire_requested_at is not None and gtc.expire_requested_at is None
    assert OutboxMessage.objects.filter(type="CancelOrder", payload__order_id=str(order.id),
                                        payload__reason="expire").count() == 1
    assert not OutboxMessage.objects.filter(type="CancelOrder", payload__order_id=str(gtc.id)).exists()
    execution_apply(report=ExecutionReport(order_id=order.id, exec_id="exp-1", exec_type="canceled"))
    order.refresh_from_db()
    assert order.status == "expired" and order.expired_at is not None
    assert cash_balances(account=funded_account).held == Decimal("9")


def test_xnys_session_close(settings):
    settings.FIX_VENUE_ALWAYS_OPEN = False
    # Tuesday 2026-11-24 15:00 UTC is inside the regular session; it closes at 21:00 UTC (16:00 EST).
    assert session_close_for(datetime(2026, 11, 24, 15, 0, tzinfo=UTC)) == datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
    settings.FIX_VENUE_ALWAYS_OPEN = True
    assert session_close_for(datetime(2026, 11, 24, 15, 0, tzinfo=UTC)) == datetime(2026, 11, 25, tzinfo=UTC)
