"""Reads of the FIX trail: the messages QuickFIX logged (FileLog under FIX_STORE_DIR) for one order."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import quickfix as fix
from django.conf import settings

from apps.fix import messages as m
from apps.fix.dictionary import data_dictionary

SOH = "\x01"
MSG_TYPE_NAMES = {"D": "NewOrderSingle", "F": "OrderCancelRequest", "G": "OrderCancelReplaceRequest",
                  "H": "OrderStatusRequest", "8": "ExecutionReport", "9": "OrderCancelReject"}
SHOWN_TAGS = {m.EXEC_TYPE: "ExecType", m.ORD_STATUS: "OrdStatus", m.ORDER_QTY: "OrderQty", m.PRICE: "Price",
              m.LAST_QTY: "LastQty", m.LAST_PX: "LastPx", m.CUM_QTY: "CumQty", m.LEAVES_QTY: "LeavesQty",
              m.ORD_REJ_REASON: "OrdRejReason", m.TEXT: "Text", m.EXEC_ID: "ExecID", m.ORDER_ID: "OrderID"}


@dataclass(frozen=True)
class TrailEntry:
    logged_at: str          # QuickFIX's log timestamp (UTC)
    sender: str
    target: str
    msg_type: str
    msg_seq_num: str
    poss_dup: bool
    fields: dict[str, str]  # the tags compliance reads first, by name
    raw: str                # the message as logged, SOH shown as "|"


def _log_files(log_dir: Path) -> list[Path]:
    return sorted(log_dir.glob("*.messages*.log"))


def fix_trail_for_order(*, order_id: uuid.UUID | str, log_dir: Path | None = None) -> list[TrailEntry]:
    """Every logged FIX message whose ClOrdID or OrigClOrdID is this order, oldest first."""
    directory = log_dir or Path(settings.FIX_STORE_DIR) / "gateway" / "log"
    needles = (f"{SOH}11={order_id}{SOH}", f"{SOH}41={order_id}{SOH}")
    dictionary = data_dictionary(str(directory.parent))
    entries: list[TrailEntry] = []
    for path in _log_files(directory):
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if not any(needle in line for needle in needles):
                    continue
                logged_at, _, raw = line.rstrip("\n").partition(" : ")
                message = fix.Message(raw, dictionary, False)
                header = message.getHeader()
                fields = {name: message.getField(tag) for tag, name in SHOWN_TAGS.items() if message.isSetField(tag)}
                kind = header.getField(m.MSG_TYPE)
                entries.append(TrailEntry(
                    logged_at=logged_at, sender=header.getField(49), target=header.getField(56),
                    msg_type=f"{kind} {MSG_TYPE_NAMES.get(kind, '')}".strip(), msg_seq_num=header.getField(34),
                    poss_dup=header.isSetField(m.POSS_DUP) and header.getField(m.POSS_DUP) == "Y",
                    fields=fields, raw=raw.replace(SOH, "|"),
                ))
    entries.sort(key=lambda e: e.logged_at)
    return entries
