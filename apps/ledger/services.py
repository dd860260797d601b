"""Writes to the ledger: journal postings with materialized balances, deposits, withdrawals, positions.

`deposit` and `withdraw` are entry points (their own durable transaction, account locked first).
`journal_post` and `position_apply_fill` are helpers for other services that already hold the
account lock inside their transaction (order placement, fills).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from psycopg.types.json import Jsonb

from apps.accounts.models import Account
from apps.ops.db import fetch_one, hot_cursor
from apps.outbox.services import outbox_enqueue_many

from .errors import AccountNotActiveForLedger, InsufficientFunds, InvalidAmount, UnbalancedTransaction
from .locks import account_lock
from .models import JournalTransaction, LedgerAccount, Position

CASH_QUANTUM = Decimal("0.0001")
AMOUNT_QUANTUM = Decimal("0.00000001")
GENESIS_HASH = "0" * 64

CASH_AVAILABLE = "cash.available"
CASH_HELD = "cash.held"
HOUSE_BANK = "house.bank"
HOUSE_CLEARING_CASH = "house.clearing.cash"
HOUSE_FEES = "house.fees"


def securities_available(symbol: str) -> str:
    return f"securities.{symbol}.available"


def securities_held(symbol: str) -> str:
    return f"securities.{symbol}.held"


def house_clearing_securities(symbol: str) -> str:
    return f"house.clearing.securities.{symbol}"


def asset_of(code: str, currency: str = "USD") -> str:
    """The asset a ledger account is denominated in: the symbol for securities, else the currency."""
    if code.startswith("securities."):
        return code.split(".")[1]
    if code.startswith("house.clearing.securities."):
        return code.rsplit(".", 1)[1]
    return currency


def cash_round(amount: Decimal) -> Decimal:
    return amount.quantize(CASH_QUANTUM, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Leg:
    """One side of a journal transaction: `house=True` for house accounts, else the customer's."""

    code: str
    amount: Decimal
    house: bool = False


def _canonical_amount(amount: Decimal) -> str:
    return f"{amount.quantize(AMOUNT_QUANTUM):f}"


def journal_hash(*, prev_hash: str, tx_uuid: uuid.UUID, account_id: uuid.UUID | None, kind: str,
                 reference: str, order_id: uuid.UUID | None, created_at: datetime, details: dict[str, Any],
                 postings: list[tuple[str | None, str, str, Decimal]]) -> str:
    """SHA-256 over the previous hash and a canonical form of the transaction and its postings.
    `postings` are (owner account id or None for house, code, asset, amount)."""
    body = {
        "uuid": str(tx_uuid),
        "account": str(account_id) if account_id else None,
        "kind": kind,
        "reference": reference,
        "order_id": str(order_id) if order_id else None,
        "created_at": created_at.astimezone(UTC).isoformat(),
        "details": details,
        "postings": sorted([owner or "house", code, asset, _canonical_amount(amount)]
                           for owner, code, asset, amount in postings),
    }
    text = prev_hash + json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class LedgerSnapshot:
    """What journal_post needs, read in one query under the account lock: the balance rows keyed
    by (is_house, code), the hash of the account's last journal transaction, and the account's
    last order-event seq (for apps.orders, which allocates seqs under the same lock)."""

    rows: dict[tuple[bool, str], LedgerAccount]
    prev_hash: str
    last_event_seq: int

    def balance(self, code: str) -> Decimal:
        row = self.rows.get((False, code))
        return row.balance if row is not None else Decimal("0")


_SNAPSHOT_FIELDS = ("id", "account_id", "code", "asset", "balance", "updated_at")
_SNAPSHOT_SQL = """
SELECT l.id, l.account_id, l.code, l.asset, l.balance, l.updated_at,
    (SELECT j.hash FROM ledger_journal_transaction j WHERE j.account_id = %s ORDER BY j.id DESC LIMIT 1),
    (SELECT e.seq FROM orders_order_event e WHERE e.account_id = %s ORDER BY e.seq DESC LIMIT 1)
FROM ledger_account l WHERE (l.account_id = %s AND l.code = ANY(%s))
"""
_SNAPSHOT_WITH_HOUSE_SQL = _SNAPSHOT_SQL + " OR (l.account_id IS NULL AND l.code = ANY(%s))"


def _snapshot_query(account: Account, codes: list[str], house_codes: list[str]) -> list[tuple[LedgerAccount, Any, Any]]:
    """(row, last journal hash, last order-event seq) per balance row. Plain SQL: this runs on
    every order and fill, and the ORM's compilation of it cost more CPU than the query itself."""
    params: list[Any] = [account.id, account.id, account.id, codes]
    sql = _SNAPSHOT_SQL
    if house_codes:
        sql = _SNAPSHOT_WITH_HOUSE_SQL
        params.append(house_codes)
    with hot_cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    return [(LedgerAccount.from_db(connection.alias, _SNAPSHOT_FIELDS, values[:6]), values[6], values[7])
            for values in fetched]


def ledger_snapshot(*, account: Account, codes: list[str], house_codes: list[str] | None = None) -> LedgerSnapshot:
    """Balance rows (created on first use), chain head and last event seq in one round trip.
    The caller holds the account lock, so none of it can change before its transaction ends."""
    house_codes = house_codes or []
    found = _snapshot_query(account, codes, house_codes)
    rows = {(row.account_id is None, row.code): row for row, _, _ in found}
    missing = [LedgerAccount(account=account, code=code, asset=asset_of(code, account.currency))
               for code in codes if (False, code) not in rows]
    missing += [LedgerAccount(account=None, code=code, asset=asset_of(code, account.currency))
                for code in house_codes if (True, code) not in rows]
    if missing or not found:
        if missing:
            LedgerAccount.objects.bulk_create(missing, ignore_conflicts=True)
        found = _snapshot_query(account, codes, house_codes)
        rows = {(row.account_id is None, row.code): row for row, _, _ in found}
    if found:
        _, prev_hash, last_seq = found[0]
    else:  # no codes asked for: read the heads directly
        prev_hash = (JournalTransaction.objects.filter(account=account).order_by("-id")
                     .values_list("hash", flat=True).first())
        last_seq = None
    return LedgerSnapshot(rows=rows, prev_hash=prev_hash or GENESIS_HASH, last_event_seq=last_seq or 0)


def ledger_accounts_get(*, account: Account, codes: list[str],
                        house_codes: list[str]) -> dict[tuple[bool, str], LedgerAccount]:
    """Balance rows keyed by (is_house, code), created on first use."""
    return ledger_snapshot(account=account, codes=codes, house_codes=house_codes).rows


# One round trip for the whole journal transaction: the header, its postings and the balance
# rows. Only rows whose lock order cannot matter go into the statement (see journal_post).
_JOURNAL_SQL = """
WITH tx AS (
    INSERT INTO ledger_journal_transaction (uuid, account_id, kind, reference, order_id, details, created_at,
                                            prev_hash, hash)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id
), posted AS (
    INSERT INTO ledger_posting (transaction_id, ledger_account_id, asset, amount)
    SELECT tx.id, p.ledger_account_id, p.asset, p.amount
    FROM tx, unnest(%s::bigint[], %s::varchar[], %s::numeric[]) AS p(ledger_account_id, asset, amount)
), balanced AS (
    UPDATE ledger_account AS l SET balance = l.balance + d.delta, updated_at = %s
    FROM unnest(%s::bigint[], %s::numeric[]) AS d(id, delta) WHERE l.id = d.id
)
SELECT id FROM tx
"""


def journal_post(*, account: Account, kind: str, legs: list[Leg], reference: str = "",
                 order_id: uuid.UUID | None = None, details: dict[str, Any] | None = None,
                 snapshot: LedgerSnapshot | None = None,
                 outbox_batch: list[dict[str, Any]] | None = None) -> JournalTransaction:
    """Append one balanced journal transaction for `account` and update the balance rows.

    The caller must hold the account lock (apps.ledger.locks.account_lock) in the current
    transaction. Raises UnbalancedTransaction unless the legs sum to zero per asset.
    `snapshot` (from ledger_snapshot, under the same lock, covering every leg's code) saves the
    read; it is advanced in place so it stays valid for a second posting. With `outbox_batch` the
    JournalPosted message is appended there for the caller to enqueue with its other messages.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("journal_post must run inside the caller's transaction")
    legs = [leg for leg in legs if leg.amount != 0]
    if len(legs) < 2:
        raise UnbalancedTransaction("a journal transaction needs at least two non-zero postings")
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for leg in legs:
        if leg.amount != leg.amount.quantize(AMOUNT_QUANTUM):
            raise InvalidAmount(f"{leg.code}: {leg.amount} has more than 8 decimal places")
        totals[asset_of(leg.code, account.currency)] += leg.amount
    unbalanced = {asset: total for asset, total in totals.items() if total != 0}
    if unbalanced:
        raise UnbalancedTransaction(f"postings do not sum to zero: {unbalanced}")

    if snapshot is None or any((leg.house, leg.code) not in snapshot.rows for leg in legs):
        snapshot = ledger_snapshot(account=account, codes=sorted({leg.code for leg in legs if not leg.house}),
                                   house_codes=sorted({leg.code for leg in legs if leg.house}))
    rows = snapshot.rows
    details = details or {}
    created_at = timezone.now()
    tx_uuid = uuid.uuid4()
    prev_hash = snapshot.prev_hash
    posting_rows = [(rows[(leg.house, leg.code)], leg) for leg in legs]
    tx_hash = journal_hash(
        prev_hash=prev_hash, tx_uuid=tx_uuid, account_id=account.id, kind=kind, reference=reference,
        order_id=order_id, created_at=created_at, details=details,
        postings=[(None if leg.house else str(account.id), leg.code, row.asset, leg.amount)
                  for row, leg in posting_rows],
    )
    deltas: dict[int, Decimal] = defaultdict(Decimal)
    for row, leg in posting_rows:
        deltas[row.id] += leg.amount
    # The customer's rows are serialized by the account lock; house rows are shared between
    # accounts, so when there are several they are updated one by one in ascending id (a fixed
    # order: no deadlock). A single house row joins the customer's rows in the one statement.
    house_ids = sorted({row.id for row, leg in posting_rows if leg.house})
    separate = house_ids if len(house_ids) > 1 else []
    for row_id in separate:
        LedgerAccount.objects.filter(id=row_id).update(balance=F("balance") + deltas[row_id], updated_at=created_at)
    together = sorted(row_id for row_id in deltas if row_id not in separate)
    with hot_cursor() as cursor:
        params: list[Any] = [
            tx_uuid, account.id, kind, reference, order_id, Jsonb(details), created_at, prev_hash, tx_hash,
            [row.id for row, _ in posting_rows], [row.asset for row, _ in posting_rows],
            [leg.amount for _, leg in posting_rows],
            created_at, together, [deltas[row_id] for row_id in together],
        ]
        cursor.execute(_JOURNAL_SQL, params)
        (journal_id,) = fetch_one(cursor)
    journal_tx = JournalTransaction(
        id=journal_id, uuid=tx_uuid, account=account, kind=kind, reference=reference, order_id=order_id,
        details=details, created_at=created_at, prev_hash=prev_hash, hash=tx_hash,
    )
    journal_tx._state.adding = False
    journal_tx._state.db = connection.alias
    for row, leg in posting_rows:
        row.balance += leg.amount
    snapshot.prev_hash = tx_hash
    message = {
        "topic": settings.TOPIC_LEDGER_EVENTS, "type": "JournalPosted", "key": str(account.id),
        "account_id": account.id, "occurred_at": created_at,
        "payload": {
            "transaction_id": str(tx_uuid),
            "journal_id": journal_id,
            "kind": kind,
            "reference": reference,
            "order_id": str(order_id) if order_id else None,
            "created_at": created_at.isoformat(),
            "hash": tx_hash,
            "prev_hash": prev_hash,
            "details": details,
            "postings": [
                {"account_id": None if leg.house else str(account.id), "code": leg.code, "asset": row.asset,
                 "amount": _canonical_amount(leg.amount)}
                for row, leg in posting_rows
            ],
        },
    }
    if outbox_batch is not None:
        outbox_batch.append(message)
    else:
        outbox_enqueue_many(messages=[message])
    return journal_tx


def balances_for_update(*, account: Account, codes: list[str]) -> dict[str, Decimal]:
    """Current balances of the customer's ledger accounts (zero when never used). Read under the
    account lock: every change to a customer's rows takes that lock first."""
    found = dict(LedgerAccount.objects.filter(account=account, code__in=codes).values_list("code", "balance"))
    return {code: found.get(code, Decimal("0")) for code in codes}


def _positive_cash(amount: Decimal) -> Decimal:
    if not isinstance(amount, Decimal):
        raise InvalidAmount(f"amount must be a Decimal, got {type(amount).__name__}")
    if not amount.is_finite() or amount <= 0:
        raise InvalidAmount(f"amount must be positive, got {amount}")
    if amount != cash_round(amount):
        raise InvalidAmount(f"amount {amount} has more than 4 decimal places")
    return amount


def deposit(*, account: Account, amount: Decimal, reference: str = "") -> JournalTransaction:
    """Credit `amount` of cash from the house bank account to the customer's available cash."""
    amount = _positive_cash(amount)
    with transaction.atomic(durable=True):
        locked = account_lock(account_id=account.id)
        return journal_post(
            account=locked, kind="deposit", reference=reference,
            legs=[Leg(HOUSE_BANK, -amount, house=True), Leg(CASH_AVAILABLE, amount)],
            details={"activity_type": "CSD", "amount": str(amount), "description": reference},
        )


def withdraw(*, account: Account, amount: Decimal, reference: str = "") -> JournalTransaction:
    """Pay `amount` of available cash out to the house bank account; refuses overdrafts."""
    amount = _positive_cash(amount)
    with transaction.atomic(durable=True):
        locked = account_lock(account_id=account.id)
        if not locked.is_active:
            raise AccountNotActiveForLedger(f"account {locked.account_number} is {locked.status}")
        available = balances_for_update(account=locked, codes=[CASH_AVAILABLE])[CASH_AVAILABLE]
        if available < amount:
            raise InsufficientFunds(f"available cash {available} is less than the withdrawal {amount}")
        return journal_post(
            account=locked, kind="withdrawal", reference=reference,
            legs=[Leg(CASH_AVAILABLE, -amount), Leg(HOUSE_BANK, amount, house=True)],
            details={"activity_type": "CSW", "amount": str(-amount), "description": reference},
        )


def position_apply_fill(*, account: Account, symbol: str, side: str, qty: Decimal, price: Decimal) -> Decimal:
    """Update the materialized position for a fill (caller holds the account lock); returns the
    realized P&L of a sell (0 for a buy). Average entry price is cost basis over quantity."""
    position, _ = Position.objects.get_or_create(account=account, symbol=symbol)
    realized = position_fill_math(position=position, side=side, qty=qty, price=price)
    position.save()
    return realized


def position_fill_math(*, position: Position, side: str, qty: Decimal, price: Decimal) -> Decimal:
    """Pure position arithmetic shared by the live path and ledger_verify's replay."""
    realized = Decimal("0")
    if side == "buy":
        position.cost_basis = (position.cost_basis + qty * price).quantize(AMOUNT_QUANTUM)
        position.qty += qty
    else:
        avg = position.avg_entry_price
        realized = ((price - avg) * qty).quantize(AMOUNT_QUANTUM)
        position.realized_pl += realized
        position.qty -= qty
        position.cost_basis = (position.cost_basis - avg * qty).quantize(AMOUNT_QUANTUM)
    if position.qty == 0:
        position.cost_basis = Decimal("0")
        position.avg_entry_price = Decimal("0")
    else:
        position.avg_entry_price = (position.cost_basis / position.qty).quantize(AMOUNT_QUANTUM)
    return realized
