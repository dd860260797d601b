"""The order state machine: one transition table, one function that applies it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import IllegalTransition

if TYPE_CHECKING:
    from .models import Order

OPEN_STATUSES = frozenset({
    "pending_new", "accepted", "new", "partially_filled", "pending_cancel", "pending_replace", "done_for_day",
})
TERMINAL_STATUSES = frozenset({"filled", "canceled", "expired", "rejected", "replaced"})

# status -> statuses it may move to. A fill may still arrive while a cancel or replace is pending.
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending_new": frozenset({"accepted", "new", "partially_filled", "filled", "rejected", "canceled",
                              "expired", "pending_cancel", "pending_replace"}),
    "accepted": frozenset({"new", "partially_filled", "filled", "rejected", "canceled", "expired",
                           "pending_cancel", "pending_replace"}),
    "new": frozenset({"partially_filled", "filled", "canceled", "expired", "pending_cancel",
                      "pending_replace", "replaced", "done_for_day"}),
    "partially_filled": frozenset({"partially_filled", "filled", "canceled", "expired", "pending_cancel",
                                   "pending_replace", "replaced", "done_for_day"}),
    "pending_cancel": frozenset({"canceled", "expired", "partially_filled", "filled", "new", "accepted",
                                 "pending_new"}),
    "pending_replace": frozenset({"replaced", "partially_filled", "filled", "canceled", "expired", "new",
                                  "accepted", "pending_new", "pending_cancel"}),
    "done_for_day": frozenset({"new", "partially_filled", "filled", "canceled", "expired"}),
    "filled": frozenset(),
    "canceled": frozenset(),
    "expired": frozenset(),
    "rejected": frozenset(),
    "replaced": frozenset(),
}


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def order_transition(*, order: Order, to: str) -> None:
    """Move `order` to status `to` (in memory; the caller saves) or raise IllegalTransition."""
    if not can_transition(order.status, to):
        raise IllegalTransition(f"order {order.id} cannot go from {order.status} to {to}")
    order.status = to
