"""Value types shared between the trading core and the FIX gateway."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

ExecType = Literal[
    "new",            # venue accepted the order (35=8 150=0)
    "partial_fill",   # 150=F with leaves > 0
    "fill",           # 150=F with leaves == 0
    "canceled",       # 150=4
    "replaced",       # 150=5 (order_id is the new order, orig_order_id the replaced one)
    "rejected",       # 150=8 (reject_reason set)
    "expired",        # 150=C
    "pending_cancel", # 150=6
    "pending_replace",  # 150=E
    "cancel_rejected",  # 35=9 (reject_reason set)
    "status",         # 150=I answer to an OrderStatusRequest
]


@dataclass(frozen=True)
class ExecutionReport:
    """A venue report normalized from FIX. `order_id` is our Order.id, sent to the venue as ClOrdID.

    For fills, `exec_id` (tag 17) is the idempotency key: applying the same report twice changes
    nothing. `last_qty`/`last_price` describe this fill; `cum_qty`/`avg_price` the venue's totals.
    """

    order_id: uuid.UUID
    exec_id: str
    exec_type: ExecType
    order_status: str = ""          # tag 39 as received, for the FIX trail
    exchange_order_id: str = ""     # tag 37
    orig_order_id: uuid.UUID | None = None  # tag 41 on replace / cancel
    last_qty: Decimal = Decimal("0")
    last_price: Decimal = Decimal("0")
    cum_qty: Decimal = Decimal("0")
    leaves_qty: Decimal = Decimal("0")
    avg_price: Decimal = Decimal("0")
    reject_reason: str = ""
    transact_time: datetime | None = None
