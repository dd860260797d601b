"""Tradable instruments (US listings)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models


class Exchange(models.TextChoices):
    NYSE = "NYSE", "New York Stock Exchange"
    NASDAQ = "NASDAQ", "Nasdaq"
    ARCA = "ARCA", "NYSE Arca"
    AMEX = "AMEX", "NYSE American"
    BATS = "BATS", "Cboe BZX"


class AssetClass(models.TextChoices):
    US_EQUITY = "us_equity", "US equity"


class InstrumentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"


class Instrument(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    symbol = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=200)
    exchange = models.CharField(max_length=8, choices=Exchange.choices)
    asset_class = models.CharField(max_length=16, choices=AssetClass.choices, default=AssetClass.US_EQUITY)
    sector = models.CharField(max_length=100, blank=True, default="")
    industry = models.CharField(max_length=200, blank=True, default="")
    isin = models.CharField(max_length=12, blank=True, default="")
    tick_size = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal("0.01"))
    lot_size = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal("1"))
    tradable = models.BooleanField(default=True)
    fractionable = models.BooleanField(default=False)
    shortable = models.BooleanField(default=False)
    marginable = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=InstrumentStatus.choices, default=InstrumentStatus.ACTIVE)
    # Popularity for ranking search ties: index memberships (S&P 500 > NASDAQ 100 > ...), market cap
    # when known. Higher ranks first.
    popularity = models.IntegerField(default=0)
    indices = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "instruments_instrument"
        ordering = ["symbol"]

    def __str__(self) -> str:
        return f"{self.symbol} ({self.name})"
