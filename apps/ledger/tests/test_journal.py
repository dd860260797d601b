"""The journal is append-only in the database; money movements are all-or-nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from apps.ledger.errors import InsufficientFunds, InvalidAmount
from apps.ledger.models import LedgerAccount, Posting
from apps.ledger.selectors import balances_as_of, cash_balances
from apps.ledger.services import deposit, withdraw
from apps.ledger.verify import ledger_verify
from tests.factories import AccountFactory


@pytest.mark.django_db
def test_update_and_delete_on_the_journal_are_refused_by_the_database():
    account: Any = AccountFactory()
    journal_tx = deposit(account=account, amount=Decimal("100"), reference="funding")
    posting = Posting.objects.filter(transaction=journal_tx).first()
    # Raw SQL: the database itself must refuse, whatever the ORM would do.
    statements = [
        ("UPDATE ledger_journal_transaction SET reference = 'tampered' WHERE id = %s", journal_tx.id),
        ("DELETE FROM ledger_posting WHERE id = %s", posting.id),
        ("UPDATE ledger_posting SET amount = 1000000 WHERE id = %s", posting.id),
        ("DELETE FROM ledger_journal_transaction WHERE id = %s", journal_tx.id),
    ]
    for sql, key in statements:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [key])
    journal_tx.refresh_from_db()
    assert journal_tx.reference == "funding"
    assert Posting.objects.get(id=posting.id).amount in (Decimal("100"), Decimal("-100"))


@pytest.mark.django_db
def test_deposit_withdraw_balances_chain_and_as_of():
    account: Any = AccountFactory()
    first = deposit(account=account, amount=Decimal("250.50"), reference="a")
    second = withdraw(account=account, amount=Decimal("50.25"), reference="b")
    assert second.prev_hash == first.hash
    assert cash_balances(account=account).available == Decimal("200.25")
    assert balances_as_of(account=account, as_of=first.created_at) == {"cash.available": Decimal("250.50")}
    with pytest.raises(InsufficientFunds):
        withdraw(account=account, amount=Decimal("200.26"))
    with pytest.raises(InvalidAmount):
        deposit(account=account, amount=Decimal("-1"))
    with pytest.raises(InvalidAmount):
        deposit(account=account, amount=Decimal("0.00001"))
    bank = LedgerAccount.objects.get(account__isnull=True, code="house.bank")
    customer = LedgerAccount.objects.get(account=account, code="cash.available")
    assert bank.balance + customer.balance == 0 or bank.balance < 0
    report = ledger_verify()
    assert report.ok, report.problems


@pytest.mark.django_db
def test_ledger_verify_detects_a_tampered_balance_row():
    account: Any = AccountFactory()
    deposit(account=account, amount=Decimal("10"), reference="x")
    LedgerAccount.objects.filter(account=account, code="cash.available").update(balance=Decimal("11"))
    report = ledger_verify()
    assert not report.ok
    assert any("cash.available" in problem for problem in report.problems)
