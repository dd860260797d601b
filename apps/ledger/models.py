"""Double-entry ledger: an append-only journal of transactions and postings, materialized balances,
positions, and the read models the ledger projector builds from `ledger.events`.

Sign convention: a posting adds its amount to its ledger account's balance. A customer's
`cash.available` is positive when the customer has money; the house bank account goes negative
by what customers deposited. Postings of one journal transaction sum to zero per asset
("USD" for cash, the symbol for shares).
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models


class LedgerAccount(models.Model):
    """One balance row: a customer's `cash.available` / `cash.held` / `securities.<SYM>.available` /
    `securities.<SYM>.held`, or a house account (`account` null): `house.bank`, `house.clearing.cash`,
    `house.clearing.securities.<SYM>`, `house.fees`."""

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey("accounts.Account", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="ledger_accounts")
    code = models.CharField(max_length=64)
    asset = models.CharField(max_length=16)
    balance = models.DecimalField(max_digits=28, decimal_places=8, default=Decimal("0"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "ledger_account"
        constraints = [
            models.UniqueConstraint(fields=["account", "code"], name="ledger_account_unique_code",
                                    nulls_distinct=False),
        ]

    def __str__(self) -> str:
        return f"{self.account_id or 'house'}:{self.code}={self.balance}"


class JournalTransaction(models.Model):
    """An immutable journal entry. `prev_hash` is the hash of the previous transaction of the same
    customer account (the chain is per account so that accounts never serialize on one head row);
    the house-only chain uses account null."""

    id = models.BigAutoField(primary_key=True)
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey("accounts.Account", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="journal_transactions")
    kind = models.CharField(max_length=32)
    reference = models.CharField(max_length=200, blank=True, default="")
    order_id = models.UUIDField(null=True, blank=True, db_index=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        db_table = "ledger_journal_transaction"
        indexes = [models.Index(fields=["account", "id"], name="ledger_jtx_account_id_idx")]

    def __str__(self) -> str:
        return f"{self.id} {self.kind} {self.reference}"


class Posting(models.Model):
    id = models.BigAutoField(primary_key=True)
    transaction = models.ForeignKey(JournalTransaction, on_delete=models.PROTECT, related_name="postings")
    ledger_account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="postings")
    asset = models.CharField(max_length=16)
    amount = models.DecimalField(max_digits=28, decimal_places=8)

    class Meta:
        db_table = "ledger_posting"

    def __str__(self) -> str:
        return f"{self.ledger_account_id} {self.amount} {self.asset}"


class Position(models.Model):
    """Materialized holding per account and symbol; qty equals the journal's securities balances."""

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="positions")
    symbol = models.CharField(max_length=16)
    qty = models.DecimalField(max_digits=28, decimal_places=8, default=Decimal("0"))
    avg_entry_price = models.DecimalField(max_digits=28, decimal_places=8, default=Decimal("0"))
    cost_basis = models.DecimalField(max_digits=28, decimal_places=8, default=Decimal("0"))
    realized_pl = models.DecimalField(max_digits=28, decimal_places=8, default=Decimal("0"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "ledger_position"
        constraints = [models.UniqueConstraint(fields=["account", "symbol"], name="ledger_position_unique")]
        ordering = ["symbol"]

    def __str__(self) -> str:
        return f"{self.account_id} {self.symbol} {self.qty}@{self.avg_entry_price}"


# --- Read models built by the ledger projector (workers/ledger_projector.py) ----------------------


class ProjectedEvent(models.Model):
    """Events the projector has applied (dedupe by event id: delivery is at-least-once)."""

    event_id = models.UUIDField(primary_key=True)
    applied_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "ledger_projected_event"

    def __str__(self) -> str:
        return str(self.event_id)


class Activity(models.Model):
    """An account activity in Alpaca's shape (FILL trade activities; CSD/CSW/FEE non-trade ones)."""

    id = models.BigAutoField(primary_key=True)
    activity_id = models.CharField(max_length=80, unique=True)
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="activities")
    activity_type = models.CharField(max_length=16)
    occurred_at = models.DateTimeField()
    data = models.JSONField()

    class Meta:
        db_table = "ledger_activity"
        indexes = [models.Index(fields=["account", "occurred_at", "activity_id"], name="ledger_activity_acct_idx")]

    def __str__(self) -> str:
        return self.activity_id


class DailyBalance(models.Model):
    """End-of-day figures per account (UTC date): cash, cost basis of positions, net cash flows."""

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="daily_balances")
    date = models.DateField()
    cash = models.DecimalField(max_digits=28, decimal_places=8, default=Decimal("0"))
    positions_cost = models.DecimalField(max_digits=28, decimal_places=8, default=Decimal("0"))
    realized_pl = models.DecimalField(max_digits=28, decimal_places=8, default=Decimal("0"))
    deposits = models.DecimalField(max_digits=28, decimal_places=8, default=Decimal("0"))
    withdrawals = models.DecimalField(max_digits=28, decimal_places=8, default=Decimal("0"))
    fees = models.DecimalField(max_digits=28, decimal_places=8, default=Decimal("0"))

    class Meta:
        db_table = "ledger_daily_balance"
        constraints = [models.UniqueConstraint(fields=["account", "date"], name="ledger_daily_balance_unique")]
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.account_id} {self.date} cash={self.cash}"
