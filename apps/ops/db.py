"""Plain SQL for the hot paths (order entry, fills): server-bound cursors and model inserts.

`hot_cursor()` is a cursor with server-side parameter binding on Django's current connection:
the parameters travel apart from the SQL text in the extended query protocol, where Django's
default psycopg cursor quotes every value into the text in Python. Statements stay unprepared
(Django sets `prepare_threshold` to None so that transaction-mode poolers keep working). They
bypass Django's execute wrappers, so they are not in `connection.queries`.

`Model.objects.create()` compiles a fresh INSERT through the ORM's query machinery on every call;
on order entry that cost more CPU than the round trip itself. `insert_instance` sends the same
INSERT, built once per model from its metadata, with each value prepared by its field exactly as
`save()` would (`get_db_prep_save`), and leaves the instance in the state `save()` leaves it in.
It does not send signals: use it only for models nothing listens to (checked here).
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models.signals import post_save, pre_save

M = TypeVar("M", bound=models.Model)


def hot_cursor() -> psycopg.Cursor[Any]:
    """A server-binding cursor on the connection of the current transaction (use it as a context
    manager; the transaction itself stays Django's)."""
    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


@cache
def _insert_plan(model: type[models.Model]) -> tuple[str, tuple[models.Field, ...], models.Field | None]:
    if pre_save.has_listeners(model) or post_save.has_listeners(model):
        raise RuntimeError(f"{model.__name__} has save signal receivers: insert it with save()")
    meta = model._meta
    pk = meta.pk
    auto_pk = pk if isinstance(pk, models.AutoField | models.BigAutoField | models.SmallAutoField) else None
    fields = tuple(f for f in meta.concrete_fields if f is not auto_pk)
    if any(getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) for f in fields):
        raise RuntimeError(f"{model.__name__} has auto_now fields: insert it with save()")
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 - names from model metadata only
        quote(meta.db_table), ", ".join(quote(f.column) for f in fields), ", ".join(["%s"] * len(fields)))
    if auto_pk is not None:
        sql += f" RETURNING {quote(auto_pk.column)}"
    return sql, fields, auto_pk


def fetch_one(cursor: psycopg.Cursor[Any]) -> tuple[Any, ...]:
    """The single row a statement returns (RETURNING, a lookup by key); raises if there is none."""
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError("the statement returned no row")
    return row


def insert_instance(instance: M) -> M:
    """INSERT `instance` (defaults already applied by its constructor) and return it, saved."""
    sql, fields, auto_pk = _insert_plan(type(instance))
    conn = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: one lookup instead of one per field
    params = [field.get_db_prep_save(getattr(instance, field.attname), conn) for field in fields]
    with hot_cursor() as cursor:
        cursor.execute(sql, params)
        if auto_pk is not None:
            (value,) = fetch_one(cursor)
            setattr(instance, auto_pk.attname, value)
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance
