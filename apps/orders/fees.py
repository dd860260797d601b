"""Regulatory transaction fees passed through to the customer on sales.

Commission is zero. On every sell execution the customer pays, as US brokers pass them on:
- the SEC Section 31 fee: proceeds x ORDER_FEE_SEC_RATE (per dollar of proceeds);
- the FINRA Trading Activity Fee: shares sold x ORDER_FEE_TAF_PER_SHARE, at most ORDER_FEE_TAF_MAX.
Each is rounded up to the cent, as brokers bill them, and together they never exceed the proceeds
of the execution, so a sale can never take the cash balance below what it was before the sale.
Buys carry no fee. The rates change by regulator order, so they are settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_UP, Decimal

from django.conf import settings

CENT = Decimal("0.01")
ZERO = Decimal("0")


@dataclass(frozen=True)
class SaleFees:
    sec: Decimal
    taf: Decimal

    @property
    def total(self) -> Decimal:
        return self.sec + self.taf


def _up_to_cent(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_UP) if amount > 0 else ZERO


def sale_fees(*, qty: Decimal, proceeds: Decimal) -> SaleFees:
    """Fees on one sell execution of `qty` shares for `proceeds` dollars."""
    if qty <= 0 or proceeds <= 0:
        return SaleFees(ZERO, ZERO)
    sec = _up_to_cent(proceeds * Decimal(settings.ORDER_FEE_SEC_RATE))
    taf = min(_up_to_cent(qty * Decimal(settings.ORDER_FEE_TAF_PER_SHARE)), Decimal(settings.ORDER_FEE_TAF_MAX))
    sec = min(sec, proceeds)
    taf = min(taf, proceeds - sec)
    return SaleFees(sec, taf)
