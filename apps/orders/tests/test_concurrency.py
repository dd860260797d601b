"""Concurrency invariants with real threads released together against real PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal

from django.db import connection
from django.db.models import Sum

from apps.ledger.models import JournalTransaction, LedgerAccount, Posting
from apps.ledger.selectors import cash_balances
from apps.ledger.services import deposit
from apps.orders.errors import DuplicateClientOrderId, InsufficientBuyingPower
from apps.orders.models import Order
from apps.orders.services import order_place
from apps.outbox.models import OutboxMessage

from .conftest import unique_account


def _run_together(count: int, action) -> list[object]:
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[index] = action(index)
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def _assert_journal_matches_balances(account) -> None:
    sums = dict(Posting.objects.filter(ledger_account__account=account).values_list("ledger_account_id")
                .annotate(total=Sum("amount")))
    for row in LedgerAccount.objects.filter(account=account):
        assert row.balance == sums.get(row.id, Decimal("0")), row.code


def _assert_cash_never_negative(account) -> None:
    running = Decimal("0")
    for amount in (Posting.objects.filter(ledger_account__account=account, ledger_account__code="cash.available")
                   .order_by("id").values_list("amount", flat=True)):
        running += amount
        assert running >= 0


def test_overdraft_race_exactly_one_hundred_accepted(large_pool, committed_instrument):
    for round_number in range(3):
        account = unique_account()
        deposit(account=account, amount=Decimal("1000"), reference=f"race round {round_number}")

        def place(index: int, account=account) -> Order:
            return order_place(account=account, symbol="RACE", side="buy", type="limit", time_in_force="day",
                               qty=Decimal("1"), limit_price=Decimal("10.00"))

        results = _run_together(200, place)
        kinds = Counter(type(result).__name__ for result in results)
        assert kinds == {"Order": 100, "InsufficientBuyingPower": 100}, kinds
        assert all(isinstance(r, Order | InsufficientBuyingPower) for r in results)
        balances = cash_balances(account=account)
        assert balances.available == Decimal("0") and balances.held == Decimal("1000")
        assert Order.objects.filter(account=account).count() == 100
        assert OutboxMessage.objects.filter(account_id=account.id, type="PlaceOrder").count() == 100
        _assert_journal_matches_balances(account)
        _assert_cash_never_negative(account)


def test_same_client_order_id_fifty_times_makes_one_order(large_pool, committed_instrument):
    account = unique_account()
    deposit(account=account, amount=Decimal("1000"), reference="idempotency")

    def place(index: int) -> Order:
        return order_place(account=account, symbol="RACE", side="buy", type="limit", time_in_force="day",
                           qty=Decimal("1"), limit_price=Decimal("10.00"), client_order_id="same-id")

    results = _run_together(50, place)
    assert all(isinstance(r, Order) for r in results), [r for r in results if not isinstance(r, Order)]
    assert len({r.id for r in results if isinstance(r, Order)}) == 1
    assert Order.objects.filter(account=account).count() == 1
    assert JournalTransaction.objects.filter(account=account, kind="hold").count() == 1
    assert OutboxMessage.objects.filter(account_id=account.id, type="PlaceOrder").count() == 1
    assert cash_balances(account=account).held == Decimal("10")
    try:
        order_place(account=account, symbol="RACE", side="buy", type="limit", time_in_force="day",
                    qty=Decimal("2"), limit_price=Decimal("10.00"), client_order_id="same-id")
    except DuplicateClientOrderId:
        pass
    else:
        raise AssertionError("a different payload under the same client_order_id must be refused")
    assert Order.objects.filter(account=account).count() == 1
    assert cash_balances(account=account).held == Decimal("10")
