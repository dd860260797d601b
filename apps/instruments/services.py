"""Writes for instruments: loading the real US listings shipped offline in pytickersymbols."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction

from .models import Exchange, Instrument

# US indices in pytickersymbols and the weight their membership adds to search popularity.
US_INDEX_WEIGHTS: dict[str, int] = {
    "DOW JONES": 40,
    "S&P 100": 30,
    "NASDAQ 100": 20,
    "S&P 500": 10,
    "S&P 600": 1,
}
GICS_SECTORS = {
    "Communication Services",
    "Consumer Discretionary",
    "Consumer Staples",
    "Energy",
    "Financials",
    "Health Care",
    "Industrials",
    "Information Technology",
    "Materials",
    "Real Estate",
    "Utilities",
    "Technology",
}
_GOOGLE_PREFIX = {"NYSE": Exchange.NYSE, "NASDAQ": Exchange.NASDAQ, "NYSEARCA": Exchange.ARCA,
                  "NYSEAMERICAN": Exchange.AMEX, "NYSEMKT": Exchange.AMEX, "BATS": Exchange.BATS}
_REVENUE = re.compile(r"US\$\s*([\d.,]+)\s*(billion|million)", re.IGNORECASE)


@dataclass
class Listing:
    symbol: str
    name: str
    exchange: str
    sector: str = ""
    industry: str = ""
    isin: str = ""
    indices: list[str] = field(default_factory=list)
    revenue_millions: int = 0

    @property
    def popularity(self) -> int:
        # Index membership dominates; revenue (a proxy for size) breaks ties between members.
        weight = sum(US_INDEX_WEIGHTS.get(index, 0) for index in self.indices)
        return weight * 1_000_000 + min(self.revenue_millions, 999_999)


def _exchange_of(company: dict[str, Any]) -> str:
    symbol = company["symbol"]
    for listing in company.get("symbols") or []:
        google = listing.get("google", "")
        if listing.get("currency") == "USD" and ":" in google:
            prefix, ticker = google.split(":", 1)
            if ticker == symbol and prefix in _GOOGLE_PREFIX:
                return _GOOGLE_PREFIX[prefix]
    traded_as = (company.get("metadata") or {}).get("traded_as", "") or ""
    if "NYSE American" in traded_as:
        return Exchange.AMEX
    if "Arca" in traded_as:
        return Exchange.ARCA
    if "Cboe" in traded_as or "BATS" in traded_as:
        return Exchange.BATS
    if traded_as.lower().startswith("nasdaq") or (traded_as and "NYSE" not in traded_as and "Nasdaq" in traded_as):
        return Exchange.NASDAQ
    return Exchange.NYSE


def _revenue_millions(company: dict[str, Any]) -> int:
    match = _REVENUE.search((company.get("metadata") or {}).get("revenue", "") or "")
    if not match:
        return 0
    amount = Decimal(match.group(1).replace(",", "") or "0")
    return int(amount * (1000 if match.group(2).lower() == "billion" else 1))


def us_listings() -> list[Listing]:
    """Every company of the US indices in pytickersymbols, deduplicated by symbol."""
    from pytickersymbols import PyTickerSymbols

    source = PyTickerSymbols()
    by_symbol: dict[str, Listing] = {}
    for index in US_INDEX_WEIGHTS:
        for company in source.get_stocks_by_index(index):
            symbol = (company.get("symbol") or "").strip().upper()
            if not symbol or not re.fullmatch(r"[A-Z][A-Z0-9.]{0,9}", symbol):
                continue
            listing = by_symbol.get(symbol)
            if listing is None:
                industries = [i for i in company.get("industries") or [] if i]
                sector = next((i for i in industries if i in GICS_SECTORS), "")
                industry = next((i for i in industries if i != sector), "")
                isins = [i for i in company.get("isins") or [] if i.startswith("US")]
                listing = Listing(
                    symbol=symbol,
                    name=(company.get("name") or symbol).strip(),
                    exchange=_exchange_of(company),
                    sector=sector[:100],
                    industry=industry[:200],
                    isin=isins[0] if len(isins) == 1 else "",
                    revenue_millions=_revenue_millions(company),
                )
                by_symbol[symbol] = listing
            if index not in listing.indices:
                listing.indices.append(index)
    return sorted(by_symbol.values(), key=lambda item: item.symbol)


@dataclass
class LoadResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def instruments_load(*, listings: Iterable[Listing] | None = None) -> LoadResult:
    """Insert or update instruments from listings; idempotent: a second run changes nothing."""
    items = list(us_listings() if listings is None else listings)
    result = LoadResult()
    fields = ("name", "exchange", "sector", "industry", "isin", "indices", "popularity")
    with transaction.atomic():
        existing = {row.symbol: row for row in Instrument.objects.filter(symbol__in=[i.symbol for i in items])}
        to_create: list[Instrument] = []
        to_update: list[Instrument] = []
        for item in items:
            values = {
                "name": item.name,
                "exchange": item.exchange,
                "sector": item.sector,
                "industry": item.industry,
                "isin": item.isin,
                "indices": sorted(item.indices),
                "popularity": item.popularity,
            }
            row = existing.get(item.symbol)
            if row is None:
                to_create.append(Instrument(symbol=item.symbol, **values))
            elif any(getattr(row, key) != value for key, value in values.items()):
                for key, value in values.items():
                    setattr(row, key, value)
                to_update.append(row)
            else:
                result.unchanged += 1
        Instrument.objects.bulk_create(to_create, batch_size=1000)
        Instrument.objects.bulk_update(to_update, fields=list(fields), batch_size=1000)
        result.created = len(to_create)
        result.updated = len(to_update)
    return result
