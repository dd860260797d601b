"""FIX 4.4 message construction and reading for the venue link, on quickfix's message classes.

Prices and quantities go on the wire as decimal strings and come back as Decimal: quickfix's
typed price fields are doubles, so they are never used here. This module has no I/O.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

import quickfix as fix

from apps.orders.types import ExecType, ExecutionReport

# --- tag numbers (FIX 4.4) --------------------------------------------------------------------
MSG_TYPE = 35
POSS_DUP = 43
AVG_PX = 6
CL_ORD_ID = 11
CUM_QTY = 14
EXEC_ID = 17
LAST_PX = 31
LAST_QTY = 32
ORDER_ID = 37
ORDER_QTY = 38
ORD_STATUS = 39
ORD_TYPE = 40
ORIG_CL_ORD_ID = 41
PRICE = 44
SIDE = 54
SYMBOL = 55
TEXT = 58
TIME_IN_FORCE = 59
TRANSACT_TIME = 60
STOP_PX = 99
CXL_REJ_REASON = 102
ORD_REJ_REASON = 103
EXEC_TYPE = 150
LEAVES_QTY = 151
CASH_ORDER_QTY = 152
CXL_REJ_RESPONSE_TO = 434
ACCOUNT = 1
HANDL_INST = 21

SIDE_CODES = {"buy": "1", "sell": "2"}
SIDE_NAMES = {v: k for k, v in SIDE_CODES.items()}
ORD_TYPE_CODES = {"market": "1", "limit": "2", "stop": "3", "stop_limit": "4"}
ORD_TYPE_NAMES = {v: k for k, v in ORD_TYPE_CODES.items()}
TIF_CODES = {"day": "0", "gtc": "1", "ioc": "3", "fok": "4"}
TIF_NAMES = {v: k for k, v in TIF_CODES.items()}

EXEC_TYPE_NAMES: dict[str, ExecType] = {
    "0": "new", "4": "canceled", "5": "replaced", "8": "rejected", "C": "expired",
    "6": "pending_cancel", "E": "pending_replace", "I": "status",
}
ORD_STATUS_NEW = "0"
ORD_STATUS_PARTIAL = "1"
ORD_STATUS_FILLED = "2"
ORD_STATUS_CANCELED = "4"
ORD_STATUS_REJECTED = "8"
ORD_STATUS_EXPIRED = "C"
TERMINAL_ORD_STATUSES = {ORD_STATUS_FILLED, ORD_STATUS_CANCELED, ORD_STATUS_REJECTED, ORD_STATUS_EXPIRED}

# OrdRejReason (103) values used by the venue.
REJ_BROKER_OPTION = "0"
REJ_UNKNOWN_SYMBOL = "1"
REJ_EXCHANGE_CLOSED = "2"
REJ_UNKNOWN_ORDER = "5"
REJ_DUPLICATE_ORDER = "6"
REJ_OTHER = "99"
REJECT_REASON_TEXT = {
    REJ_BROKER_OPTION: "rejected by the venue", REJ_UNKNOWN_SYMBOL: "unknown symbol",
    REJ_EXCHANGE_CLOSED: "exchange closed", REJ_UNKNOWN_ORDER: "unknown order",
    REJ_DUPLICATE_ORDER: "duplicate ClOrdID", REJ_OTHER: "other",
}


class MessageError(ValueError):
    """A message lacks a field we need or carries a value we cannot read."""


def get(message: fix.FieldMap, tag: int, default: str = "") -> str:
    return message.getField(tag) if message.isSetField(tag) else default


def require(message: fix.FieldMap, tag: int) -> str:
    if not message.isSetField(tag):
        raise MessageError(f"tag {tag} missing")
    return message.getField(tag)


def decimal_of(message: fix.FieldMap, tag: int) -> Decimal:
    raw = get(message, tag)
    if not raw:
        return Decimal("0")
    try:
        return Decimal(raw)
    except InvalidOperation as exc:
        raise MessageError(f"tag {tag} is not a number: {raw!r}") from exc


def decimal_text(value: Decimal | str) -> str:
    """A decimal for the wire: plain notation, no exponent, no trailing zeros beyond the value."""
    text = format(Decimal(value).normalize(), "f")
    return text


def msg_type(message: fix.Message) -> str:
    return message.getHeader().getField(MSG_TYPE)


def utc_timestamp(value: dt.datetime | None = None) -> fix.TransactTime:
    field = fix.TransactTime()
    field.setString((value or dt.datetime.now(dt.UTC)).strftime("%Y%m%d-%H:%M:%S.%f")[:-3])
    return field


def transact_time_of(message: fix.FieldMap) -> dt.datetime | None:
    raw = get(message, TRANSACT_TIME)
    if not raw:
        return None
    for pattern in ("%Y%m%d-%H:%M:%S.%f", "%Y%m%d-%H:%M:%S"):
        try:
            return dt.datetime.strptime(raw, pattern).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    return None


def _message(msg_type_code: str) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(fix.BeginString("FIX.4.4"))
    message.getHeader().setField(fix.MsgType(msg_type_code))
    return message


def _order_fields(message: fix.Message, payload: dict[str, Any]) -> None:
    message.setField(ACCOUNT, str(payload["account_id"]))
    message.setField(SYMBOL, payload["symbol"])
    message.setField(SIDE, SIDE_CODES[payload["side"]])
    message.setField(utc_timestamp())
    order_type = payload.get("type") or "market"
    message.setField(ORD_TYPE, ORD_TYPE_CODES[order_type])
    message.setField(TIME_IN_FORCE, TIF_CODES[payload.get("time_in_force") or "day"])
    if payload.get("qty") not in (None, ""):
        message.setField(ORDER_QTY, decimal_text(payload["qty"]))
    elif payload.get("notional") not in (None, ""):
        message.setField(CASH_ORDER_QTY, decimal_text(payload["notional"]))
    else:
        raise MessageError("order has neither qty nor notional")
    if order_type in ("limit", "stop_limit"):
        message.setField(PRICE, decimal_text(payload["limit_price"]))
    if order_type in ("stop", "stop_limit"):
        message.setField(STOP_PX, decimal_text(payload["stop_price"]))
    message.setField(HANDL_INST, "1")


def new_order_single(payload: dict[str, Any]) -> fix.Message:
    """35=D from a PlaceOrder payload; the order's id is the ClOrdID."""
    message = _message("D")
    message.setField(CL_ORD_ID, str(payload["order_id"]))
    _order_fields(message, payload)
    return message


def order_cancel_request(payload: dict[str, Any], *, cancel_id: str) -> fix.Message:
    """35=F from a CancelOrder payload; `cancel_id` is the request's own ClOrdID."""
    message = _message("F")
    message.setField(ORIG_CL_ORD_ID, str(payload["order_id"]))
    message.setField(CL_ORD_ID, cancel_id)
    message.setField(ACCOUNT, str(payload["account_id"]))
    message.setField(SYMBOL, payload["symbol"])
    message.setField(SIDE, SIDE_CODES[payload["side"]])
    message.setField(utc_timestamp())
    if payload.get("qty") not in (None, ""):
        message.setField(ORDER_QTY, decimal_text(payload["qty"]))
    return message


def order_cancel_replace_request(payload: dict[str, Any]) -> fix.Message:
    """35=G from a ReplaceOrder payload: ClOrdID is the new order id, OrigClOrdID the replaced one."""
    message = _message("G")
    message.setField(ORIG_CL_ORD_ID, str(payload["orig_order_id"]))
    message.setField(CL_ORD_ID, str(payload["order_id"]))
    _order_fields(message, payload)
    return message


def order_status_request(*, order_id: str, symbol: str, side: str) -> fix.Message:
    message = _message("H")
    message.setField(CL_ORD_ID, order_id)
    message.setField(SYMBOL, symbol)
    message.setField(SIDE, SIDE_CODES[side])
    return message


def _uuid(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise MessageError(f"ClOrdID {raw!r} is not one of our order ids") from exc


def cancel_request_id() -> str:
    """ClOrdID of a cancel request: unique, and never mistaken for an order id."""
    return f"CXL-{uuid.uuid4().hex}"


def execution_report_from_fix(message: fix.Message) -> ExecutionReport:
    """Normalize a 35=8 or 35=9 into the trading core's ExecutionReport.

    The venue reports a cancel under the cancel request's ClOrdID with the canceled order's id in
    OrigClOrdID; the report is about that order. A replace is reported under the new order id
    (ClOrdID) with the replaced one in OrigClOrdID.
    """
    kind = msg_type(message)
    cl_ord_id = require(message, CL_ORD_ID)
    orig = get(message, ORIG_CL_ORD_ID)
    if kind == "9":
        response_to = get(message, CXL_REJ_RESPONSE_TO, "1")
        # A rejected cancel concerns the original order; a rejected replace the new order id.
        order_id = _uuid(orig) if response_to == "1" else _uuid(cl_ord_id)
        text = get(message, TEXT) or "cancel rejected"
        return ExecutionReport(
            order_id=order_id,
            exec_id=f"9:{get(message, ORDER_ID)}:{cl_ord_id}",
            exec_type="cancel_rejected",
            order_status=get(message, ORD_STATUS),
            exchange_order_id=get(message, ORDER_ID),
            orig_order_id=_uuid(orig) if orig and response_to == "2" else None,
            reject_reason=text,
            transact_time=transact_time_of(message),
        )
    if kind != "8":
        raise MessageError(f"not an execution report: 35={kind}")
    exec_code = require(message, EXEC_TYPE)
    leaves = decimal_of(message, LEAVES_QTY)
    exec_type: ExecType
    if exec_code in ("F", "1", "2"):
        exec_type = "fill" if leaves == 0 else "partial_fill"
    elif exec_code in EXEC_TYPE_NAMES:
        exec_type = EXEC_TYPE_NAMES[exec_code]
    else:
        raise MessageError(f"unsupported ExecType {exec_code!r}")
    orig_order_id: uuid.UUID | None = None
    if exec_type in ("canceled", "pending_cancel") and orig:
        order_id = _uuid(orig)
    else:
        order_id = _uuid(cl_ord_id)
        if exec_type in ("replaced", "pending_replace") and orig:
            orig_order_id = _uuid(orig)
    reject_reason = ""
    if exec_type == "rejected" or (exec_type == "status" and get(message, ORD_STATUS) == ORD_STATUS_REJECTED):
        code = get(message, ORD_REJ_REASON, REJ_OTHER)
        reject_reason = get(message, TEXT) or REJECT_REASON_TEXT.get(code, f"OrdRejReason {code}")
    elif exec_type in ("canceled", "expired"):
        reject_reason = get(message, TEXT)
    return ExecutionReport(
        order_id=order_id,
        exec_id=require(message, EXEC_ID),
        exec_type=exec_type,
        order_status=get(message, ORD_STATUS),
        exchange_order_id=get(message, ORDER_ID),
        orig_order_id=orig_order_id,
        last_qty=decimal_of(message, LAST_QTY),
        last_price=decimal_of(message, LAST_PX),
        cum_qty=decimal_of(message, CUM_QTY),
        leaves_qty=leaves,
        avg_price=decimal_of(message, AVG_PX),
        reject_reason=reject_reason,
        transact_time=transact_time_of(message),
    )
