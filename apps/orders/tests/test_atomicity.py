"""An exception after the postings leaves no order, no posting and no outbox row."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.ledger.models import JournalTransaction, Posting
from apps.ledger.selectors import cash_balances
from apps.ledger.services import deposit
from apps.orders import services
from apps.orders.models import Order
from apps.outbox.models import OutboxMessage

from .conftest import unique_account


class Boom(Exception):
    pass


def test_failure_after_postings_rolls_everything_back(committed_db, committed_instrument, monkeypatch):
    account = unique_account()
    deposit(account=account, amount=Decimal("1000"), reference="atomicity")
    before = (
        cash_balances(account=account),
        JournalTransaction.objects.filter(account=account).count(),
        Posting.objects.filter(ledger_account__account=account).count(),
        OutboxMessage.objects.filter(account_id=account.id).count(),
    )
    reached = []
    original = services._event_append

    def failing_event_append(**kwargs):
        # Runs after the hold postings and the PlaceOrder outbox row were written.
        reached.append(JournalTransaction.objects.filter(account=account, kind="hold").count())
        raise Boom("crash after the postings")

    monkeypatch.setattr(services, "_event_append", failing_event_append)
    with pytest.raises(Boom):
        services.order_place(account=account, symbol="RACE", side="buy", type="limit", time_in_force="day",
                             qty=Decimal("5"), limit_price=Decimal("10.00"))
    monkeypatch.setattr(services, "_event_append", original)
    assert reached == [1], "the failure must happen after the postings were written"
    after = (
        cash_balances(account=account),
        JournalTransaction.objects.filter(account=account).count(),
        Posting.objects.filter(ledger_account__account=account).count(),
        OutboxMessage.objects.filter(account_id=account.id).count(),
    )
    assert after == before
    assert not Order.objects.filter(account=account).exists()
