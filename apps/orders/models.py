"""Orders, their venue executions and the per-account stream of order events."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models


class Side(models.TextChoices):
    BUY = "buy"
    SELL = "sell"


class OrderType(models.TextChoices):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TimeInForce(models.TextChoices):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class OrderStatus(models.TextChoices):
    PENDING_NEW = "pending_new"
    ACCEPTED = "accepted"
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    DONE_FOR_DAY = "done_for_day"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REPLACED = "replaced"
    PENDING_CANCEL = "pending_cancel"
    PENDING_REPLACE = "pending_replace"
    REJECTED = "rejected"


class Order(models.Model):
    """A customer order. `id` is sent to the venue as ClOrdID; `exchange_order_id` is the venue's."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="orders")
    client_order_id = models.CharField(max_length=128)
    instrument = models.ForeignKey("instruments.Instrument", on_delete=models.PROTECT, related_name="orders")
    symbol = models.CharField(max_length=16)
    asset_class = models.CharField(max_length=16, default="us_equity")
    side = models.CharField(max_length=4, choices=Side.choices)
    type = models.CharField(max_length=16, choices=OrderType.choices)
    time_in_force = models.CharField(max_length=4, choices=TimeInForce.choices)
    qty = models.DecimalField(max_digits=28, decimal_places=8, null=True, blank=True)
    notional = models.DecimalField(max_digits=28, decimal_places=8, null=True, blank=True)
    limit_price = models.DecimalField(max_digits=28, decimal_places=8, null=True, blank=True)
    stop_price = models.DecimalField(max_digits=28, decimal_places=8, null=True, blank=True)
    extended_hours = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING_NEW,
                              db_index=True)
    filled_qty = models.DecimalField(max_digits=28, decimal_places=8, default=Decimal("0"))
    filled_avg_price = models.DecimalField(max_digits=28, decimal_places=8, null=True, blank=True)
    filled_notional = models.DecimalField(max_digits=28, decimal_places=8, default=Decimal("0"))
    # What placement reserved (cash for buys, shares for sells) and what of it is still reserved.
    hold_amount = models.DecimalField(max_digits=28, decimal_places=8, default=Decimal("0"))
    hold_remaining = models.DecimalField(max_digits=28, decimal_places=8, default=Decimal("0"))
    # Reference price used for a market order's hold (last quote at placement).
    reference_price = models.DecimalField(max_digits=28, decimal_places=8, null=True, blank=True)
    # SHA-256 of the request, so a retry under the same client_order_id can be told from a conflict.
    request_hash = models.CharField(max_length=64)
    exchange_order_id = models.CharField(max_length=64, blank=True, default="")
    reject_reason = models.CharField(max_length=500, blank=True, default="")
    # Set by order_expire: the venue's cancel confirmation then finishes the order as expired.
    expire_requested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField()
    submitted_at = models.DateTimeField()
    filled_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    replaced_at = models.DateTimeField(null=True, blank=True)
    replaces = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="replaced_by_order")
    replaced_by = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="replaces_order")

    class Meta:
        db_table = "orders_order"
        constraints = [
            models.UniqueConstraint(fields=["account", "client_order_id"], name="orders_client_order_id_unique"),
        ]
        indexes = [models.Index(fields=["account", "created_at"], name="orders_account_created_idx")]

    def __str__(self) -> str:
        return f"{self.id} {self.side} {self.qty or self.notional} {self.symbol} {self.status}"

    @property
    def is_open(self) -> bool:
        from .state import OPEN_STATUSES

        return self.status in OPEN_STATUSES


class Execution(models.Model):
    """Every execution report applied to an order (the FIX trail); unique by the venue's exec_id.
    Fills are the rows with exec_type partial_fill / fill."""

    id = models.BigAutoField(primary_key=True)
    exec_id = models.CharField(max_length=100, unique=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="executions")
    exec_type = models.CharField(max_length=20)
    order_status = models.CharField(max_length=20, blank=True, default="")
    qty = models.DecimalField(max_digits=28, decimal_places=8, default=Decimal("0"))
    price = models.DecimalField(max_digits=28, decimal_places=8, default=Decimal("0"))
    cum_qty = models.DecimalField(max_digits=28, decimal_places=8, default=Decimal("0"))
    leaves_qty = models.DecimalField(max_digits=28, decimal_places=8, default=Decimal("0"))
    reject_reason = models.CharField(max_length=500, blank=True, default="")
    executed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "orders_execution"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.exec_id} {self.exec_type} {self.qty}@{self.price}"


class OrderEvent(models.Model):
    """One trade update (Alpaca event name) with a per-account sequence number allocated under the
    account lock; a reconnecting WebSocket client replays from here by `seq`."""

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="order_events")
    seq = models.PositiveBigIntegerField()
    event = models.CharField(max_length=20)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="events")
    payload = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        db_table = "orders_order_event"
        ordering = ["account", "seq"]
        constraints = [models.UniqueConstraint(fields=["account", "seq"], name="orders_event_seq_unique")]

    def __str__(self) -> str:
        return f"{self.account_id}#{self.seq} {self.event}"
