"""Regulatory fees on sales: rounding, the TAF cap, never more than the proceeds, buys free."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.orders.fees import sale_fees


@pytest.mark.parametrize(("qty", "proceeds", "sec", "taf"), [
    # $1,000,000 sold: SEC $27.80 exactly; 10,000 shares: TAF $1.66.
    ("10000", "1000000", "27.80", "1.66"),
    # Tiny sale: each fee rounds up to one cent.
    ("1", "10.20", "0.01", "0.01"),
    # 100,000 shares: TAF would be $16.60, capped at $8.30.
    ("100000", "500000", "13.90", "8.30"),
    # A fractional share: the TAF is still at least a cent.
    ("0.5", "100", "0.01", "0.01"),
])
def test_fees_round_up_to_the_cent_and_cap_the_taf(qty, proceeds, sec, taf):
    fees = sale_fees(qty=Decimal(qty), proceeds=Decimal(proceeds))
    assert (fees.sec, fees.taf) == (Decimal(sec), Decimal(taf))
    assert fees.total == Decimal(sec) + Decimal(taf)


def test_fees_never_exceed_the_proceeds():
    fees = sale_fees(qty=Decimal("1"), proceeds=Decimal("0.01"))
    assert fees.total == Decimal("0.01") and fees.sec == Decimal("0.01") and fees.taf == 0


def test_no_fee_without_a_sale():
    assert sale_fees(qty=Decimal("0"), proceeds=Decimal("0")).total == 0


def test_rates_are_settings(settings):
    settings.ORDER_FEE_SEC_RATE = Decimal("0")
    settings.ORDER_FEE_TAF_PER_SHARE = Decimal("0")
    assert sale_fees(qty=Decimal("100"), proceeds=Decimal("5000")).total == 0
