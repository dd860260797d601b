"""Plain SQL for the hot paths (order entry, fills): server-bound cursors and model inserts.

`hot_cursor()` is a cursor with server-side parameter binding on Django's current connection:
the parameters travel apart from the SQL text in the extended query protocol, where Django's
default psycopg cursor quotes every value into the text in Python. Statements stay unprepared
(Django sets `prepare_threshold` to None so that transaction-mode poolers keep working). They
bypass Django's execute wrappers, so they are not in `connection.queries`.

`Model.objects.create()` compiles a fresh INSERT through the ORM's query machinery on every call;
on order entry that cost more CPU than the round trip itself. `insert_instance` sends the same
INSERT, built once per model from its metadata, with each value prepared by its field exactly as
`save()` would (`pre_save`, which fills auto_now fields, then `get_db_prep_save`), and leaves the
instance in the state `save()` leaves it in. `update_instance` is the same for
`save(update_fields=...)`, and `select_sql` / `instance_from_row` read rows into instances as a
queryset would. None of them sends signals: use them only for models nothing listens to (checked).
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


def _refuse_listened(model: type[models.Model]) -> None:
    if pre_save.has_listeners(model) or post_save.has_listeners(model):
        raise RuntimeError(f"{model.__name__} has save signal receivers: write it with save()")


@cache
def _insert_plan(model: type[models.Model]) -> tuple[str, tuple[models.Field, ...], models.Field | None]:
    _refuse_listened(model)
    meta = model._meta
    pk = meta.pk
    auto_pk = pk if isinstance(pk, models.AutoField | models.BigAutoField | models.SmallAutoField) else None
    fields = tuple(f for f in meta.concrete_fields if f is not auto_pk)
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
    params = [field.get_db_prep_save(field.pre_save(instance, True), conn) for field in fields]
    with hot_cursor() as cursor:
        cursor.execute(sql, params)
        if auto_pk is not None:
            (value,) = fetch_one(cursor)
            setattr(instance, auto_pk.attname, value)
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance


@cache
def _update_plan(model: type[models.Model], names: tuple[str, ...]) -> tuple[str, tuple[models.Field, ...]]:
    _refuse_listened(model)
    meta = model._meta
    fields: list[models.Field] = []
    for name in names:
        field = meta.get_field(name)
        if not isinstance(field, models.Field) or not field.concrete:
            raise ValueError(f"{model.__name__}.{name} is not a concrete field")
        fields.append(field)
    if meta.pk is None:
        raise ValueError(f"{model.__name__} has no primary key")
    quote = connection.ops.quote_name
    sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608 - names from model metadata only
        quote(meta.db_table), ", ".join(f"{quote(str(f.column))} = %s" for f in fields), quote(str(meta.pk.column)))
    return sql, tuple(fields)


def update_instance(instance: models.Model, *names: str) -> None:
    """`instance.save(update_fields=names)` as one plain UPDATE by primary key."""
    sql, fields = _update_plan(type(instance), names)
    conn = connections[DEFAULT_DB_ALIAS]
    params = [field.get_db_prep_save(field.pre_save(instance, False), conn) for field in fields]
    params.append(instance.pk)
    with hot_cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount != 1:
            raise RuntimeError(f"{type(instance).__name__} {instance.pk} was not updated ({cursor.rowcount} rows)")


@cache
def select_sql(model: type[models.Model]) -> tuple[str, tuple[str, ...]]:
    """`SELECT <every concrete column> FROM <table>` and the attribute names in that order; append
    the WHERE (and locking) clause, then turn rows into instances with `instance_from_row`."""
    meta = model._meta
    quote = connection.ops.quote_name
    fields = meta.concrete_fields
    if any(hasattr(f, "from_db_value") for f in fields):
        raise RuntimeError(f"{model.__name__} has fields with database converters: read it with the ORM")
    sql = "SELECT {} FROM {}".format(  # noqa: S608 - names from model metadata only
        ", ".join(quote(f.column) for f in fields), quote(meta.db_table))
    return sql, tuple(f.attname for f in fields)


def instance_from_row(model: type[M], names: tuple[str, ...], row: tuple[Any, ...]) -> M:
    """The instance a queryset would build from a row of `select_sql(model)` (whose fields have
    no from_db_value converters: psycopg already returns their values as Python needs them)."""
    return model.from_db(connection.alias, list(names), row)
