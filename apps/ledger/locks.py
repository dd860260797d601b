"""Row locks for money movements. Fixed order everywhere: account, then ledger balance rows
(ascending id), then orders. Every check-then-act on a customer's money starts here."""

from __future__ import annotations

import uuid

from django.db import connection

from apps.accounts.models import Account
from apps.ops.db import hot_cursor

_ACCOUNT_FIELDS = [field.attname for field in Account._meta.concrete_fields]
# Plain SQL built once from the model's metadata (no input in it): every money movement starts
# here, and compiling the equivalent queryset cost more CPU than the round trip.
_ACCOUNT_LOCK_SQL = "SELECT {} FROM {} WHERE {} = %s FOR NO KEY UPDATE".format(  # noqa: S608
    ", ".join(connection.ops.quote_name(field.column) for field in Account._meta.concrete_fields),
    connection.ops.quote_name(Account._meta.db_table), connection.ops.quote_name(Account._meta.pk.column),
)


def account_lock(*, account_id: uuid.UUID) -> Account:
    """Lock the account row (FOR NO KEY UPDATE) for the rest of the transaction and return it fresh."""
    if not connection.in_atomic_block:
        raise RuntimeError("account_lock must run inside a transaction")
    with hot_cursor() as cursor:
        cursor.execute(_ACCOUNT_LOCK_SQL, [account_id])
        values = cursor.fetchone()
    if values is None:
        raise Account.DoesNotExist(f"account {account_id} does not exist")
    return Account.from_db(connection.alias, _ACCOUNT_FIELDS, values)
