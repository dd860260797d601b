"""Recompute the ledger from the journal and compare: zero-sum per transaction, the per-account
hash chain, every materialized balance and every position."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Q, Sum

from .models import JournalTransaction, LedgerAccount, Position, Posting
from .services import GENESIS_HASH, journal_hash, position_fill_math


@dataclass
class VerifyReport:
    transactions: int = 0
    postings: int = 0
    balances: int = 0
    positions: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def ledger_verify(*, limit_problems: int = 100, account_id: uuid.UUID | None = None) -> VerifyReport:
    """Verify the whole ledger, or only one customer account's chain, balances and positions
    (`account_id`; house balances are then skipped since every account posts to them)."""
    report = VerifyReport()
    transactions = JournalTransaction.objects.all()
    balance_rows = LedgerAccount.objects.all()
    positions = Position.objects.all()
    postings_all = Posting.objects.all()
    if account_id is not None:
        transactions = transactions.filter(account_id=account_id)
        balance_rows = balance_rows.filter(account_id=account_id)
        positions = positions.filter(account_id=account_id)
        postings_all = postings_all.filter(ledger_account__account_id=account_id)

    def problem(text: str) -> None:
        if len(report.problems) < limit_problems:
            report.problems.append(text)
        elif len(report.problems) == limit_problems:
            report.problems.append("... more problems not listed")

    last_hash: dict[object, str] = {}
    replayed: dict[tuple[Any, str], Position] = {}
    rows_seen = LedgerAccount.objects.all()
    if account_id is not None:
        rows_seen = rows_seen.filter(Q(account_id=account_id) | Q(account_id__isnull=True))
    codes = dict(rows_seen.values_list("id", "code"))
    owners = dict(rows_seen.values_list("id", "account_id"))
    chunk: list[JournalTransaction] = []

    def check(chunk: list[JournalTransaction]) -> None:
        postings: dict[int, list[Posting]] = defaultdict(list)
        for posting in Posting.objects.filter(transaction_id__in=[tx.id for tx in chunk]).order_by("id"):
            postings[posting.transaction_id].append(posting)
        for tx in chunk:
            report.transactions += 1
            rows = postings[tx.id]
            report.postings += len(rows)
            totals: dict[str, Decimal] = defaultdict(Decimal)
            for row in rows:
                totals[row.asset] += row.amount
            if any(total != 0 for total in totals.values()) or len(rows) < 2:
                problem(f"journal {tx.id}: postings do not balance: {dict(totals)}")
            expected_prev = last_hash.get(tx.account_id, GENESIS_HASH)
            if tx.prev_hash != expected_prev:
                problem(f"journal {tx.id}: prev_hash breaks the chain of account {tx.account_id}")
            recomputed = journal_hash(
                prev_hash=tx.prev_hash, tx_uuid=tx.uuid, account_id=tx.account_id, kind=tx.kind,
                reference=tx.reference, order_id=tx.order_id, created_at=tx.created_at, details=tx.details,
                postings=[(str(owners[r.ledger_account_id]) if owners[r.ledger_account_id] else None,
                           codes[r.ledger_account_id], r.asset, r.amount) for r in rows],
            )
            if recomputed != tx.hash:
                problem(f"journal {tx.id}: hash mismatch (contents changed)")
            last_hash[tx.account_id] = tx.hash
            if tx.kind == "fill":
                key = (tx.account_id, tx.details["symbol"])
                position = replayed.setdefault(key, Position(symbol=key[1]))
                position_fill_math(position=position, side=tx.details["side"], qty=Decimal(tx.details["qty"]),
                                   price=Decimal(tx.details["price"]))

    for tx in transactions.order_by("id").iterator(chunk_size=2000):
        chunk.append(tx)
        if len(chunk) >= 2000:
            check(chunk)
            chunk = []
    if chunk:
        check(chunk)

    sums = dict(postings_all.values_list("ledger_account_id").annotate(total=Sum("amount")).order_by())
    for row in balance_rows:
        report.balances += 1
        expected = sums.get(row.id, Decimal("0"))
        if row.balance != expected:
            problem(f"balance {row.account_id or 'house'}:{row.code} is {row.balance}, journal says {expected}")
        if row.account_id and row.code in ("cash.available", "cash.held") and row.balance < 0:
            problem(f"balance {row.account_id}:{row.code} is negative: {row.balance}")

    shares: dict[tuple[Any, str], Decimal] = defaultdict(Decimal)
    for row in balance_rows.filter(account__isnull=False, code__startswith="securities."):
        shares[(row.account_id, row.code.split(".")[1])] += row.balance
    stored: dict[tuple[Any, str], Position] = {(p.account_id, p.symbol): p for p in positions}
    for key in set(stored) | set(replayed) | set(shares):
        report.positions += 1
        actual, expected_position = stored.get(key), replayed.get(key)
        qty = actual.qty if actual else Decimal("0")
        if qty != shares.get(key, Decimal("0")):
            problem(f"position {key}: qty {qty} but securities balances say {shares.get(key)}")
        if expected_position is None:
            if qty:
                problem(f"position {key}: qty {qty} without any fill in the journal")
            continue
        stored_figures = actual and (actual.qty, actual.avg_entry_price, actual.realized_pl)
        replayed_figures = (expected_position.qty, expected_position.avg_entry_price, expected_position.realized_pl)
        if stored_figures != replayed_figures:
            problem(f"position {key}: stored {stored_figures} != replayed {replayed_figures}")
    return report
