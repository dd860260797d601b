"""Order entry and venue reports. Every entry point runs in one durable transaction that locks the
account row first (apps.ledger.locks.account_lock), then checks, then writes the order, the journal
postings, the order event and the outbox rows together: all or nothing.

Holds: a buy reserves cash (`cash.available` -> `cash.held`): qty x limit price for limit and
stop-limit orders, qty x reference x (1 + collar) for market orders and qty x stop x (1 + collar)
for stop orders, the notional for notional market buys. A sell reserves shares
(`securities.<SYM>.available` -> `.held`). Fills consume the hold, a fill below the reserved price
gives the difference back at once, and a terminal state releases whatever is left.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from datetime import datetime
from decimal import ROUND_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.models import Account
from apps.instruments.models import Instrument, InstrumentStatus
from apps.ledger.locks import account_lock
from apps.ledger.models import Position
from apps.ledger.services import (
    CASH_AVAILABLE,
    CASH_HELD,
    HOUSE_CLEARING_CASH,
    HOUSE_FEES,
    LedgerSnapshot,
    Leg,
    balances_for_update,
    cash_round,
    house_clearing_securities,
    journal_post,
    ledger_snapshot,
    position_apply_fill,
    securities_available,
    securities_held,
)
from apps.marketdata.selectors import quote_latest
from apps.ops.db import fetch_one, hot_cursor, insert_instance, update_instance
from apps.outbox.services import outbox_enqueue, outbox_enqueue_many

from .errors import (
    AccountNotActive,
    DuplicateClientOrderId,
    IllegalTransition,
    InstrumentNotTradable,
    InsufficientBuyingPower,
    InsufficientShares,
    InvalidOrder,
    InvalidQuantity,
    MaxNotionalExceeded,
    NoReferencePrice,
    OrderNotFound,
    PriceCollar,
    PriceOffTick,
)
from .fees import sale_fees
from .locks import order_lock
from .models import Execution, Order, OrderEvent, OrderStatus, OrderType, Side, TimeInForce
from .presenters import decimal_str, order_to_alpaca
from .state import OPEN_STATUSES, TERMINAL_STATUSES, can_transition, order_transition
from .types import ExecutionReport

logger = logging.getLogger(__name__)

ZERO = Decimal("0")
QTY_QUANTUM = Decimal("0.000000001")
PRICE_QUANTUM = Decimal("0.00000001")


# --- input --------------------------------------------------------------------------------------


def _decimal(value: Any, name: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        result = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError) as exc:
        raise InvalidOrder(f"{name} must be a decimal number, got {value!r}") from exc
    if not result.is_finite():
        raise InvalidOrder(f"{name} must be finite")
    return result


def _request_hash(fields: dict[str, Any]) -> str:
    text = json.dumps({k: (str(v) if isinstance(v, Decimal) else v) for k, v in fields.items()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _ceil_cash(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.0001"), rounding=ROUND_UP)


def _on_tick(price: Decimal, tick: Decimal) -> bool:
    return tick <= 0 or price % tick == 0


# --- events -------------------------------------------------------------------------------------


def _event_append(*, account: Account, order: Order, event: str, price: Decimal | None = None,
                  qty: Decimal | None = None, execution_id: str | None = None,
                  snapshot: LedgerSnapshot | None = None,
                  outbox_batch: list[dict[str, Any]] | None = None) -> OrderEvent:
    """Allocate the next per-account seq (the caller holds the account lock), store the event and
    queue it for `orders.updates`. With a `snapshot` the seq comes from it (read under the same
    lock) and is advanced; with `outbox_batch` the message is appended there instead of inserted."""
    now = timezone.now()
    if snapshot is not None:
        last = snapshot.last_event_seq
        snapshot.last_event_seq += 1
    else:
        with hot_cursor() as cursor:
            cursor.execute(_LAST_EVENT_SEQ_SQL, [account.id])
            last = fetch_one(cursor)[0] or 0
    payload: dict[str, Any] = {
        "seq": last + 1,
        "event": event,
        "timestamp": now.isoformat(),
        "order": order_to_alpaca(order),
    }
    if price is not None:
        payload["price"] = decimal_str(price)
    if qty is not None:
        payload["qty"] = decimal_str(qty)
        position = Position.objects.filter(account=account, symbol=order.symbol).first()
        payload["position_qty"] = decimal_str(position.qty if position else ZERO)
    if execution_id is not None:
        payload["execution_id"] = execution_id
    row = insert_instance(OrderEvent(account=account, seq=last + 1, event=event, order=order, payload=payload,
                                     created_at=now))
    message = {"topic": settings.TOPIC_ORDERS_UPDATES, "type": "OrderUpdated", "key": str(account.id),
               "account_id": account.id, "payload": payload, "occurred_at": now}
    if outbox_batch is not None:
        outbox_batch.append(message)
    else:
        outbox_enqueue_many(messages=[message])
    return row


def _command(*, account: Account, type: str, payload: dict[str, Any]) -> None:
    outbox_enqueue(topic=settings.TOPIC_ORDERS_COMMANDS, type=type, key=str(account.id), account_id=account.id,
                   payload=payload)


def _place_command_payload(order: Order) -> dict[str, Any]:
    return {
        "order_id": str(order.id), "account_id": str(order.account_id), "client_order_id": order.client_order_id,
        "symbol": order.symbol, "side": order.side, "type": order.type, "time_in_force": order.time_in_force,
        "qty": decimal_str(order.qty), "notional": decimal_str(order.notional),
        "limit_price": decimal_str(order.limit_price), "stop_price": decimal_str(order.stop_price),
    }


def _cancel_command(*, account: Account, order: Order, reason: str) -> None:
    _command(account=account, type="CancelOrder", payload={
        "order_id": str(order.id), "account_id": str(order.account_id), "symbol": order.symbol,
        "side": order.side, "qty": decimal_str(order.qty), "reason": reason,
    })


# --- holds --------------------------------------------------------------------------------------


def _hold_legs(*, order: Order, amount: Decimal) -> list[Leg]:
    """Legs moving `amount` into the order's hold (negative amount: out of it)."""
    if order.side == Side.BUY:
        return [Leg(CASH_AVAILABLE, -amount), Leg(CASH_HELD, amount)]
    return [Leg(securities_available(order.symbol), -amount), Leg(securities_held(order.symbol), amount)]


def _hold_details(order: Order, amount: Decimal, reason: str) -> dict[str, Any]:
    return {"order_id": str(order.id), "symbol": order.symbol, "side": order.side, "amount": str(amount),
            "reason": reason}


def _release_hold(*, account: Account, order: Order, reason: str) -> None:
    """Give back whatever of the order's hold is still reserved (terminal states)."""
    remaining = order.hold_remaining
    if remaining > 0:
        journal_post(account=account, kind="hold_release", reference=f"order {order.id} {reason}",
                     order_id=order.id, legs=_hold_legs(order=order, amount=-remaining),
                     details=_hold_details(order, remaining, reason))
        order.hold_remaining = ZERO


def _required_hold(*, instrument: Instrument, side: str, type: str, qty: Decimal | None,
                   notional: Decimal | None, limit_price: Decimal | None, stop_price: Decimal | None,
                   reference: Decimal | None) -> tuple[Decimal, Decimal]:
    """(hold amount, estimated notional) for an order. Sells hold shares, buys hold cash."""
    collar = Decimal(settings.ORDER_PRICE_COLLAR)
    if notional is not None:
        return _ceil_cash(notional), notional
    if qty is None:
        raise InvalidQuantity("qty is required")
    if type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        if limit_price is None:
            raise InvalidOrder(f"limit_price is required for {type} orders")
        price = limit_price
    elif type == OrderType.STOP:
        if stop_price is None:
            raise InvalidOrder("stop_price is required for stop orders")
        price = stop_price * (1 + collar)
    else:
        if reference is None:
            raise NoReferencePrice(f"no quote for {instrument.symbol}: a market order cannot be priced")
        price = reference * (1 + collar)
    estimated = qty * price
    if side == Side.SELL:
        return qty, estimated
    return _ceil_cash(estimated), estimated


# --- order entry ----------------------------------------------------------------------------------

_INSTRUMENT_FIELDS = [field.attname for field in Instrument._meta.concrete_fields]
# Built once from the model's metadata (no input in it); plain SQL because compiling the queryset
# on every order cost more CPU than the indexed lookup itself.
_INSTRUMENT_SQL = "SELECT {} FROM {} WHERE {} = %s".format(  # noqa: S608
    ", ".join(connection.ops.quote_name(field.column) for field in Instrument._meta.concrete_fields),
    connection.ops.quote_name(Instrument._meta.db_table),
    connection.ops.quote_name(Instrument._meta.get_field("symbol").column),
)


def _instrument_get(symbol: str) -> Instrument | None:
    with hot_cursor() as cursor:
        cursor.execute(_INSTRUMENT_SQL, [symbol])
        values = cursor.fetchone()
    return Instrument.from_db(connection.alias, _INSTRUMENT_FIELDS, values) if values is not None else None



def order_place(*, account: Account, symbol: str, side: str, type: str, time_in_force: str,
                qty: Decimal | str | None = None, notional: Decimal | str | None = None,
                limit_price: Decimal | str | None = None, stop_price: Decimal | str | None = None,
                client_order_id: str | None = None, extended_hours: bool = False) -> Order:
    """Place an order: risk checks under the account lock, hold cash or shares, insert the order
    (pending_new), journal the hold, queue PlaceOrder for the FIX gateway and the order event.

    A retry with the same client_order_id and the same request returns the original order; a
    different request under that id raises DuplicateClientOrderId. Any denial raises a subclass of
    OrderRejected and changes nothing.
    """
    symbol = (symbol or "").strip().upper()
    if side not in Side.values:
        raise InvalidOrder(f"side must be one of {Side.values}")
    if type not in OrderType.values:
        raise InvalidOrder(f"type must be one of {OrderType.values}")
    if time_in_force not in TimeInForce.values:
        raise InvalidOrder(f"time_in_force must be one of {TimeInForce.values}")
    qty_d = _decimal(qty, "qty")
    notional_d = _decimal(notional, "notional")
    limit_d = _decimal(limit_price, "limit_price")
    stop_d = _decimal(stop_price, "stop_price")
    if (qty_d is None) == (notional_d is None):
        raise InvalidQuantity("exactly one of qty and notional is required")
    if qty_d is not None and qty_d <= 0:
        raise InvalidQuantity(f"qty must be > 0, got {qty_d}")
    if notional_d is not None:
        if notional_d <= 0:
            raise InvalidQuantity(f"notional must be > 0, got {notional_d}")
        if type != OrderType.MARKET or side != Side.BUY or time_in_force != TimeInForce.DAY:
            raise InvalidOrder("notional orders must be market buy orders with time_in_force day")
        if notional_d != cash_round(notional_d):
            raise InvalidQuantity("notional has more than 4 decimal places")
    if type in (OrderType.LIMIT, OrderType.STOP_LIMIT) and limit_d is None:
        raise InvalidOrder(f"limit_price is required for {type} orders")
    if type in (OrderType.STOP, OrderType.STOP_LIMIT) and stop_d is None:
        raise InvalidOrder(f"stop_price is required for {type} orders")
    if type in (OrderType.MARKET, OrderType.STOP) and limit_d is not None:
        raise InvalidOrder(f"limit_price is not allowed for {type} orders")
    if type in (OrderType.MARKET, OrderType.LIMIT) and stop_d is not None:
        raise InvalidOrder(f"stop_price is not allowed for {type} orders")
    for name, price in (("limit_price", limit_d), ("stop_price", stop_d)):
        if price is not None and price <= 0:
            raise InvalidOrder(f"{name} must be > 0")
    client_supplied_id = bool(client_order_id)
    client_order_id = client_order_id or str(uuid.uuid4())
    if len(client_order_id) > 128:
        raise InvalidOrder("client_order_id must be at most 128 characters")
    request_hash = _request_hash({
        "symbol": symbol, "side": side, "type": type, "time_in_force": time_in_force, "qty": qty_d,
        "notional": notional_d, "limit_price": limit_d, "stop_price": stop_d, "extended_hours": extended_hours,
    })
    # The quote is read before the lock: no network round trip while the account row is held.
    quote = quote_latest(symbol=symbol) if symbol else None
    reference = quote.reference_price if quote else None

    with transaction.atomic(durable=True):
        locked = account_lock(account_id=account.id)
        # A client_order_id we generated here is a fresh UUID: it cannot have been used before.
        existing = (Order.objects.filter(account=locked, client_order_id=client_order_id).first()
                    if client_supplied_id else None)
        if existing is not None:
            if existing.request_hash == request_hash:
                return existing
            raise DuplicateClientOrderId(f"client_order_id {client_order_id!r} was used for a different order")
        if not locked.is_active:
            raise AccountNotActive(f"account {locked.account_number} is {locked.status}")
        instrument = _instrument_get(symbol)
        if instrument is None or not instrument.tradable or instrument.status != InstrumentStatus.ACTIVE:
            raise InstrumentNotTradable(f"{symbol or '(empty symbol)'} is not tradable")
        if qty_d is not None and not instrument.fractionable:
            lot = instrument.lot_size or Decimal("1")
            if qty_d % lot != 0:
                raise InvalidQuantity(f"qty {qty_d} is not a multiple of the lot size {lot}")
        if qty_d is not None and qty_d != qty_d.quantize(QTY_QUANTUM):
            raise InvalidQuantity("qty has more than 9 decimal places")
        if notional_d is not None and not instrument.fractionable:
            raise InvalidOrder(f"{symbol} is not fractionable: notional orders are not allowed")
        for name, price in (("limit_price", limit_d), ("stop_price", stop_d)):
            if price is not None and not _on_tick(price, instrument.tick_size):
                raise PriceOffTick(f"{name} {price} is not a multiple of the tick size {instrument.tick_size}")
        collar = Decimal(settings.ORDER_PRICE_COLLAR)
        if type == OrderType.MARKET and reference is None:
            raise NoReferencePrice(f"no quote for {symbol}: a market order cannot be priced")
        if limit_d is not None and reference is not None:
            # Fat-finger guard: a marketable limit far through the market is refused.
            if side == Side.BUY and limit_d > reference * (1 + collar):
                raise PriceCollar(f"limit {limit_d} is more than {collar:%} above the last price {reference}")
            if side == Side.SELL and limit_d < reference * (1 - collar):
                raise PriceCollar(f"limit {limit_d} is more than {collar:%} below the last price {reference}")
        hold, estimated = _required_hold(instrument=instrument, side=side, type=type, qty=qty_d,
                                         notional=notional_d, limit_price=limit_d, stop_price=stop_d,
                                         reference=reference)
        if estimated > settings.ORDER_MAX_NOTIONAL:
            raise MaxNotionalExceeded(f"order notional {cash_round(estimated)} exceeds the limit "
                                      f"{settings.ORDER_MAX_NOTIONAL}")
        # One read for the balance rows the hold touches, the journal chain head and the event seq.
        hold_codes = ([CASH_AVAILABLE, CASH_HELD] if side == Side.BUY
                      else [securities_available(symbol), securities_held(symbol)])
        snapshot = ledger_snapshot(account=locked, codes=hold_codes)
        available = snapshot.balance(hold_codes[0])
        if side == Side.BUY:
            if available < hold:
                raise InsufficientBuyingPower(f"insufficient buying power: {available} available, {hold} required")
        else:
            if available < hold:
                raise InsufficientShares(f"insufficient qty available for order (requested: {hold}, "
                                         f"available: {available})")
        now = timezone.now()
        order = insert_instance(Order(
            account=locked, client_order_id=client_order_id, instrument=instrument, symbol=symbol,
            asset_class=instrument.asset_class, side=side, type=type, time_in_force=time_in_force, qty=qty_d,
            notional=notional_d, limit_price=limit_d, stop_price=stop_d, extended_hours=extended_hours,
            status=OrderStatus.PENDING_NEW, hold_amount=hold, hold_remaining=hold,
            reference_price=reference if type in (OrderType.MARKET, OrderType.STOP) else None,
            request_hash=request_hash, created_at=now, updated_at=now, submitted_at=now,
        ))
        # The three outbox rows go in one insert, in this order: journal, command, update.
        messages: list[dict[str, Any]] = []
        journal_post(account=locked, kind="hold", reference=f"order {order.id}", order_id=order.id,
                     legs=_hold_legs(order=order, amount=hold), details=_hold_details(order, hold, "placed"),
                     snapshot=snapshot, outbox_batch=messages)
        messages.append({"topic": settings.TOPIC_ORDERS_COMMANDS, "type": "PlaceOrder", "key": str(locked.id),
                         "account_id": locked.id, "payload": _place_command_payload(order)})
        _event_append(account=locked, order=order, event="pending_new", snapshot=snapshot, outbox_batch=messages)
        outbox_enqueue_many(messages=messages)
        return order


def _locked_order(*, account: Account, order_id: uuid.UUID | str) -> Order:
    try:
        key = uuid.UUID(str(order_id))
    except ValueError as exc:
        raise OrderNotFound(f"order {order_id} not found") from exc
    order = order_lock(account_id=account.id, order_id=key)
    if order is None:
        raise OrderNotFound(f"order {order_id} not found")
    return order


def order_cancel_request(*, account: Account, order_id: uuid.UUID | str) -> Order:
    """Ask the venue to cancel an open order: status pending_cancel and a CancelOrder command.
    The hold is released when the venue confirms (execution_apply with exec_type canceled)."""
    with transaction.atomic(durable=True):
        locked = account_lock(account_id=account.id)
        order = _locked_order(account=locked, order_id=order_id)
        if order.status == OrderStatus.PENDING_CANCEL:
            return order
        if order.status not in OPEN_STATUSES:
            raise IllegalTransition(f"order is not cancelable (status {order.status})")
        order_transition(order=order, to=OrderStatus.PENDING_CANCEL)
        order.updated_at = timezone.now()
        order.save(update_fields=["status", "updated_at"])
        _cancel_command(account=locked, order=order, reason="customer")
        _event_append(account=locked, order=order, event="pending_cancel")
        return order


def order_replace(*, account: Account, order_id: uuid.UUID | str, qty: Decimal | str | None = None,
                  limit_price: Decimal | str | None = None, stop_price: Decimal | str | None = None,
                  time_in_force: str | None = None, client_order_id: str | None = None) -> Order:
    """Alpaca replace: a new order linked to the old one (`replaces`), the old one pending_replace
    until the venue confirms. The old order's remaining hold is released and the new order's hold
    taken in the same journal transaction, so buying power counts the old hold once."""
    with transaction.atomic(durable=True):
        locked = account_lock(account_id=account.id)
        old = _locked_order(account=locked, order_id=order_id)
        if old.status not in (OrderStatus.NEW, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED):
            raise IllegalTransition(f"order is not replaceable (status {old.status})")
        if old.notional is not None:
            raise InvalidOrder("notional orders cannot be replaced")
        new_qty = _decimal(qty, "qty") if qty is not None else old.qty
        new_limit = _decimal(limit_price, "limit_price") if limit_price is not None else old.limit_price
        new_stop = _decimal(stop_price, "stop_price") if stop_price is not None else old.stop_price
        new_tif = time_in_force or old.time_in_force
        if new_tif not in TimeInForce.values:
            raise InvalidOrder(f"time_in_force must be one of {TimeInForce.values}")
        if new_qty is None or new_qty <= 0:
            raise InvalidQuantity("qty must be > 0")
        instrument = old.instrument
        if not instrument.fractionable and new_qty % (instrument.lot_size or 1) != 0:
            raise InvalidQuantity(f"qty {new_qty} is not a multiple of the lot size {instrument.lot_size}")
        for name, price in (("limit_price", new_limit), ("stop_price", new_stop)):
            if price is not None and not _on_tick(price, instrument.tick_size):
                raise PriceOffTick(f"{name} {price} is not a multiple of the tick size {instrument.tick_size}")
        new_cid = client_order_id or str(uuid.uuid4())
        if Order.objects.filter(account=locked, client_order_id=new_cid).exists():
            raise DuplicateClientOrderId(f"client_order_id {new_cid!r} is already used")
        hold, estimated = _required_hold(instrument=instrument, side=old.side, type=old.type, qty=new_qty,
                                         notional=None, limit_price=new_limit, stop_price=new_stop,
                                         reference=old.reference_price)
        if estimated > settings.ORDER_MAX_NOTIONAL:
            raise MaxNotionalExceeded(f"order notional {cash_round(estimated)} exceeds the limit")
        code = CASH_AVAILABLE if old.side == Side.BUY else securities_available(old.symbol)
        available = balances_for_update(account=locked, codes=[code])[code] + old.hold_remaining
        if available < hold:
            error = InsufficientBuyingPower if old.side == Side.BUY else InsufficientShares
            raise error(f"{available} available including the replaced order's hold, {hold} required")
        now = timezone.now()
        new = Order.objects.create(
            account=locked, client_order_id=new_cid, instrument=instrument, symbol=old.symbol,
            asset_class=old.asset_class, side=old.side, type=old.type, time_in_force=new_tif, qty=new_qty,
            limit_price=new_limit, stop_price=new_stop, extended_hours=old.extended_hours,
            status=OrderStatus.PENDING_NEW, hold_amount=hold, hold_remaining=hold,
            reference_price=old.reference_price, replaces=old,
            request_hash=_request_hash({"replaces": str(old.id), "qty": new_qty, "limit_price": new_limit,
                                        "stop_price": new_stop, "time_in_force": new_tif}),
            created_at=now, updated_at=now, submitted_at=now,
        )
        delta = hold - old.hold_remaining
        legs = _hold_legs(order=old, amount=-old.hold_remaining) + _hold_legs(order=new, amount=hold)
        if old.hold_remaining or hold:
            journal_post(account=locked, kind="hold_transfer", reference=f"order {old.id} replaced by {new.id}",
                         order_id=new.id, legs=_net_legs(legs),
                         details={"order_id": str(new.id), "orig_order_id": str(old.id), "symbol": old.symbol,
                                  "side": old.side, "amount": str(delta), "reason": "replace"})
        old.hold_remaining = ZERO
        order_transition(order=old, to=OrderStatus.PENDING_REPLACE)
        old.updated_at = now
        old.save(update_fields=["status", "hold_remaining", "updated_at"])
        _command(account=locked, type="ReplaceOrder", payload={
            "order_id": str(new.id), "orig_order_id": str(old.id), "account_id": str(locked.id),
            "client_order_id": new.client_order_id, "symbol": new.symbol, "side": new.side, "type": new.type,
            "time_in_force": new.time_in_force, "qty": decimal_str(new.qty),
            "limit_price": decimal_str(new.limit_price), "stop_price": decimal_str(new.stop_price),
        })
        _event_append(account=locked, order=old, event="pending_replace")
        _event_append(account=locked, order=new, event="pending_new")
        return new


def _net_legs(legs: list[Leg]) -> list[Leg]:
    totals: dict[tuple[str, bool], Decimal] = {}
    for leg in legs:
        totals[(leg.code, leg.house)] = totals.get((leg.code, leg.house), ZERO) + leg.amount
    return [Leg(code, amount, house=house) for (code, house), amount in totals.items() if amount != 0]


def order_expire(*, order_id: uuid.UUID | str) -> Order | None:
    """Expire a day order after the session close.

    An order that may be live at the venue is never finished locally: it is marked
    (`expire_requested_at`) and a CancelOrder command goes to the venue; the venue's cancel (or
    expired) report then finishes it as `expired` and releases the hold. Returns None if unknown.
    """
    order_row = Order.objects.filter(id=order_id).values_list("account_id", flat=True).first()
    if order_row is None:
        return None
    with transaction.atomic(durable=True):
        locked = account_lock(account_id=order_row)
        order = _locked_order(account=locked, order_id=order_id)
        if order.status in TERMINAL_STATUSES or order.expire_requested_at is not None:
            return order
        order.expire_requested_at = timezone.now()
        order.updated_at = order.expire_requested_at
        order.save(update_fields=["expire_requested_at", "updated_at"])
        _cancel_command(account=locked, order=order, reason="expire")
        return order


# --- venue reports --------------------------------------------------------------------------------

FIX_ORD_STATUS = {
    "0": "new", "1": "partially_filled", "2": "filled", "3": "done_for_day", "4": "canceled",
    "5": "replaced", "6": "pending_cancel", "8": "rejected", "A": "pending_new", "C": "expired",
    "E": "pending_replace",
}


# Hot statements of execution_apply (apps/ops/db.py: server-bound, no ORM compilation per call).
_ORDER_ACCOUNT_SQL = f"SELECT account_id FROM {Order._meta.db_table} WHERE id = %s"  # noqa: S608 - model metadata
_EXECUTION_SEEN_SQL = f"SELECT 1 FROM {Execution._meta.db_table} WHERE exec_id = %s"  # noqa: S608
_LAST_EVENT_SEQ_SQL = f"SELECT max(seq) FROM {OrderEvent._meta.db_table} WHERE account_id = %s"  # noqa: S608


def execution_apply(*, report: ExecutionReport) -> Order | None:
    """Apply one venue execution report in one transaction; idempotent by `exec_id` (applying the
    same report twice changes nothing). Returns the order, or None for an unknown order id."""
    with hot_cursor() as cursor:
        cursor.execute(_ORDER_ACCOUNT_SQL, [report.order_id])
        found = cursor.fetchone()
    if found is None:
        logger.warning("execution report %s for unknown order %s", report.exec_id, report.order_id)
        return None
    with transaction.atomic(durable=True):
        locked = account_lock(account_id=found[0])
        if report.exec_id:
            with hot_cursor() as cursor:
                cursor.execute(_EXECUTION_SEEN_SQL, [report.exec_id])
                seen = cursor.fetchone() is not None
            if seen:
                return Order.objects.get(id=report.order_id)
        order = _locked_order(account=locked, order_id=report.order_id)
        executed_at = report.transact_time or timezone.now()
        insert_instance(Execution(
            exec_id=report.exec_id or f"{report.exec_type}:{report.order_id}:{uuid.uuid4()}", order=order,
            exec_type=report.exec_type, order_status=report.order_status,
            qty=report.last_qty if report.exec_type in ("partial_fill", "fill") else ZERO,
            price=report.last_price if report.exec_type in ("partial_fill", "fill") else ZERO,
            cum_qty=report.cum_qty, leaves_qty=report.leaves_qty, reject_reason=report.reject_reason,
            executed_at=executed_at,
        ))
        if report.exchange_order_id and not order.exchange_order_id:
            order.exchange_order_id = report.exchange_order_id
        handler = _HANDLERS[report.exec_type]
        handler(locked, order, report)
        return order


def _touch(order: Order, *fields: str) -> None:
    order.updated_at = timezone.now()
    update_instance(order, "status", "updated_at", "exchange_order_id", *fields)


def _apply_new(account: Account, order: Order, report: ExecutionReport) -> None:
    if order.status not in (OrderStatus.PENDING_NEW, OrderStatus.ACCEPTED):
        _touch(order)  # late or repeated acknowledgement: nothing to change
        return
    order_transition(order=order, to=OrderStatus.NEW)
    _touch(order)
    _event_append(account=account, order=order, event="new")


def _apply_fill(account: Account, order: Order, report: ExecutionReport) -> None:
    qty, price = report.last_qty, report.last_price
    if qty <= 0 or price <= 0:
        raise IllegalTransition(f"fill {report.exec_id} has qty {qty} price {price}")
    if order.status in TERMINAL_STATUSES:
        raise IllegalTransition(f"fill {report.exec_id} for order {order.id} in status {order.status}")
    new_filled = order.filled_qty + qty
    if order.qty is not None and new_filled > order.qty:
        raise IllegalTransition(f"fill {report.exec_id} overfills order {order.id}: {new_filled} > {order.qty}")
    complete = (report.exec_type == "fill" and report.leaves_qty == 0) or (
        order.qty is not None and new_filled == order.qty)
    cost = cash_round(qty * price)
    legs: list[Leg] = []
    if order.side == Side.BUY:
        from_held = min(cost, order.hold_remaining)
        from_available = cost - from_held
        remaining = order.hold_remaining - from_held
        if complete:
            release = remaining
        elif order.qty:
            # A fill below the reserved price gives the difference back now.
            reserved_for_fill = _ceil_cash(order.hold_amount * qty / order.qty)
            release = max(ZERO, min(reserved_for_fill - cost, remaining))
        else:
            release = ZERO
        legs += [Leg(CASH_HELD, -(from_held + release)), Leg(CASH_AVAILABLE, release - from_available),
                 Leg(HOUSE_CLEARING_CASH, cost, house=True),
                 Leg(house_clearing_securities(order.symbol), -qty, house=True),
                 Leg(securities_available(order.symbol), qty)]
        order.hold_remaining = remaining - release
    else:
        from_held = min(qty, order.hold_remaining)
        remaining = order.hold_remaining - from_held
        release = remaining if complete else ZERO
        legs += [Leg(securities_held(order.symbol), -(from_held + release)),
                 Leg(securities_available(order.symbol), release - (qty - from_held)),
                 Leg(house_clearing_securities(order.symbol), qty, house=True),
                 Leg(HOUSE_CLEARING_CASH, -cost, house=True), Leg(CASH_AVAILABLE, cost)]
        order.hold_remaining = remaining - release
    realized = position_apply_fill(account=account, symbol=order.symbol, side=order.side, qty=qty, price=price)
    previous_notional = (order.filled_avg_price or ZERO) * order.filled_qty
    order.filled_qty = new_filled
    order.filled_avg_price = ((previous_notional + qty * price) / new_filled).quantize(PRICE_QUANTUM)
    order.filled_notional += cost
    now = timezone.now()
    if complete:
        order_transition(order=order, to=OrderStatus.FILLED)
        order.filled_at = report.transact_time or now
    elif order.status not in (OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_REPLACE):
        order_transition(order=order, to=OrderStatus.PARTIALLY_FILLED)
    leaves = (order.qty - new_filled) if order.qty is not None else report.leaves_qty
    journal_post(
        account=account, kind="fill", reference=f"exec {report.exec_id}", order_id=order.id,
        legs=_net_legs(legs),
        details={
            "activity_type": "FILL", "type": "fill" if complete else "partial_fill", "exec_id": report.exec_id,
            "order_id": str(order.id), "symbol": order.symbol, "side": order.side, "qty": str(qty),
            "price": str(price), "cost": str(cost), "cum_qty": str(new_filled), "leaves_qty": str(leaves),
            "order_status": order.status, "realized_pl": str(realized),
            "transaction_time": (report.transact_time or now).isoformat(),
        },
    )
    if order.side == Side.SELL:
        _charge_sale_fees(account=account, order=order, report=report, proceeds=cost)
    _touch(order, "filled_qty", "filled_avg_price", "filled_notional", "filled_at", "hold_remaining")
    _event_append(account=account, order=order, event="fill" if complete else "partial_fill", price=price,
                  qty=qty, execution_id=report.exec_id)


def _charge_sale_fees(*, account: Account, order: Order, report: ExecutionReport, proceeds: Decimal) -> None:
    """The regulatory fees of one sell execution (apps/orders/fees.py), from the proceeds just
    credited, as their own journal transaction (a FEE activity for the customer)."""
    fees = sale_fees(qty=report.last_qty, proceeds=proceeds)
    if fees.total <= 0:
        return
    journal_post(
        account=account, kind="fee", reference=f"exec {report.exec_id} regulatory fees", order_id=order.id,
        legs=[Leg(CASH_AVAILABLE, -fees.total), Leg(HOUSE_FEES, fees.total, house=True)],
        details={
            "activity_type": "FEE", "exec_id": report.exec_id, "order_id": str(order.id), "symbol": order.symbol,
            "qty": str(report.last_qty), "proceeds": str(proceeds), "sec_fee": str(fees.sec), "taf": str(fees.taf),
            "description": f"Regulatory fees on the sale of {decimal_str(report.last_qty)} {order.symbol}: "
                           f"SEC {fees.sec}, FINRA TAF {fees.taf}",
        },
    )


def _finish(account: Account, order: Order, *, status: str, reason: str = "") -> None:
    """Move an order to a terminal status and release its remaining hold (idempotent)."""
    if order.status == status:
        return
    order_transition(order=order, to=status)
    now = timezone.now()
    if status == OrderStatus.CANCELED:
        order.canceled_at = now
    elif status == OrderStatus.EXPIRED:
        order.expired_at = now
    elif status == OrderStatus.REJECTED:
        order.failed_at = now
        order.reject_reason = reason[:500]
    _release_hold(account=account, order=order, reason=status)
    _touch(order, "canceled_at", "expired_at", "failed_at", "reject_reason", "hold_remaining")
    _event_append(account=account, order=order, event=status)
    if status == OrderStatus.REJECTED and order.replaces_id:
        _restore_replaced(account=account, new=order)


def _restore_replaced(*, account: Account, new: Order) -> None:
    """The venue refused a replacement: the original order is live again; re-reserve what its open
    quantity needs (as much as is available, since its hold moved to the refused replacement)."""
    if new.replaces_id is None:
        return
    old = order_lock(account_id=account.id, order_id=new.replaces_id)
    if old is None or old.status != OrderStatus.PENDING_REPLACE:
        return
    order_transition(order=old, to=OrderStatus.PARTIALLY_FILLED if old.filled_qty > 0 else OrderStatus.NEW)
    if old.qty:
        open_qty = old.qty - old.filled_qty
        need = open_qty if old.side == Side.SELL else _ceil_cash(old.hold_amount * open_qty / old.qty)
        code = CASH_AVAILABLE if old.side == Side.BUY else securities_available(old.symbol)
        amount = min(need, max(ZERO, balances_for_update(account=account, codes=[code])[code]))
        if amount > 0:
            journal_post(account=account, kind="hold", reference=f"order {old.id} restored", order_id=old.id,
                         legs=_hold_legs(order=old, amount=amount), details=_hold_details(old, amount, "restored"))
            old.hold_remaining = amount
    _touch(old, "hold_remaining")
    _event_append(account=account, order=old, event="order_replace_rejected")


def _apply_canceled(account: Account, order: Order, report: ExecutionReport) -> None:
    if order.status in TERMINAL_STATUSES:
        return
    status = OrderStatus.EXPIRED if order.expire_requested_at else OrderStatus.CANCELED
    _finish(account, order, status=status)


def _apply_expired(account: Account, order: Order, report: ExecutionReport) -> None:
    if order.status in TERMINAL_STATUSES:
        return
    _finish(account, order, status=OrderStatus.EXPIRED)


def _apply_rejected(account: Account, order: Order, report: ExecutionReport) -> None:
    if order.status in TERMINAL_STATUSES:
        return
    _finish(account, order, status=OrderStatus.REJECTED, reason=report.reject_reason or "rejected by venue")


def _apply_replaced(account: Account, order: Order, report: ExecutionReport) -> None:
    """150=5: `order_id` is the replacement, `orig_order_id` (or order.replaces) the original."""
    old_id = report.orig_order_id or order.replaces_id
    if old_id is None:
        raise IllegalTransition(f"replaced report {report.exec_id} without an original order")
    old = order_lock(account_id=account.id, order_id=old_id)
    if old is None:
        raise OrderNotFound(f"original order {old_id} not found")
    now = timezone.now()
    if old.status != OrderStatus.REPLACED:
        order_transition(order=old, to=OrderStatus.REPLACED)
        old.replaced_at = now
        old.replaced_by = order
        _touch(old, "replaced_at", "replaced_by")
        _event_append(account=account, order=old, event="replaced")
    if order.status in (OrderStatus.PENDING_NEW, OrderStatus.ACCEPTED):
        order_transition(order=order, to=OrderStatus.NEW)
        _touch(order)
        _event_append(account=account, order=order, event="new")


def _apply_pending(account: Account, order: Order, report: ExecutionReport) -> None:
    target = OrderStatus.PENDING_CANCEL if report.exec_type == "pending_cancel" else OrderStatus.PENDING_REPLACE
    if order.status == target or not can_transition(order.status, target):
        return
    order_transition(order=order, to=target)
    _touch(order)
    _event_append(account=account, order=order, event=target)


def _apply_cancel_rejected(account: Account, order: Order, report: ExecutionReport) -> None:
    if order.status == OrderStatus.PENDING_NEW and order.replaces_id:
        _finish(account, order, status=OrderStatus.REJECTED, reason=report.reject_reason or "replace rejected")
        return
    if order.status in (OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_REPLACE):
        order_transition(order=order, to=OrderStatus.PARTIALLY_FILLED if order.filled_qty > 0 else OrderStatus.NEW)
        order.expire_requested_at = None
        _touch(order, "expire_requested_at")
        _event_append(account=account, order=order, event="order_cancel_rejected")


def _apply_status(account: Account, order: Order, report: ExecutionReport) -> None:
    """Reconcile with the venue's view (answer to an OrderStatusRequest after a reconnect)."""
    venue_status = FIX_ORD_STATUS.get(report.order_status, report.order_status)
    missing = report.cum_qty - order.filled_qty
    if missing > 0 and report.avg_price > 0:
        # Fills we never saw: book the difference at the price implied by the venue's average.
        known = (order.filled_avg_price or ZERO) * order.filled_qty
        price = ((report.avg_price * report.cum_qty - known) / missing).quantize(Decimal("0.0001"))
        leaves = ZERO if venue_status == "filled" else report.leaves_qty
        synthetic = ExecutionReport(
            order_id=order.id, exec_id=f"{report.exec_id}:reconcile",
            exec_type="fill" if leaves == 0 else "partial_fill",
            last_qty=missing, last_price=price, cum_qty=report.cum_qty, leaves_qty=leaves,
            avg_price=report.avg_price, transact_time=report.transact_time)
        _apply_fill(account, order, synthetic)
    if venue_status in ("canceled", "expired", "rejected") and order.status not in TERMINAL_STATUSES:
        if venue_status == "canceled":
            _apply_canceled(account, order, report)
        elif venue_status == "expired":
            _apply_expired(account, order, report)
        else:
            _apply_rejected(account, order, report)
    elif venue_status == "new" and order.status in (OrderStatus.PENDING_NEW, OrderStatus.ACCEPTED):
        _apply_new(account, order, report)
    else:
        _touch(order)


_HANDLERS = {
    "new": _apply_new,
    "partial_fill": _apply_fill,
    "fill": _apply_fill,
    "canceled": _apply_canceled,
    "replaced": _apply_replaced,
    "rejected": _apply_rejected,
    "expired": _apply_expired,
    "pending_cancel": _apply_pending,
    "pending_replace": _apply_pending,
    "cancel_rejected": _apply_cancel_rejected,
    "status": _apply_status,
}


def orders_expire_due(*, now: datetime | None = None) -> int:
    """Expire every open day order whose session has closed; returns how many were sent to expire."""
    from .sessions import session_close_for

    now = now or timezone.now()
    count = 0
    candidates = (Order.objects.filter(time_in_force=TimeInForce.DAY, status__in=OPEN_STATUSES,
                                       expire_requested_at__isnull=True)
                  .values_list("id", "submitted_at"))
    for order_id, submitted_at in candidates.iterator():
        if session_close_for(submitted_at) <= now:
            order_expire(order_id=order_id)
            count += 1
    return count
