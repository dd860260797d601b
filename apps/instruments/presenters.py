"""Instruments as the Alpaca Trading API shapes them (GET /v2/assets, /v2/assets/search)."""

from __future__ import annotations

from typing import Any

from .models import Instrument

# Alpaca reports the maintenance margin as a percentage: 30 for marginable equities, 100 otherwise.
MARGINABLE_MAINTENANCE_PERCENT = 30
NON_MARGINABLE_MAINTENANCE_PERCENT = 100


def instrument_to_alpaca(instrument: Instrument) -> dict[str, Any]:
    """An Alpaca asset object. We hold no borrow inventory data, so easy_to_borrow mirrors shortable."""
    return {
        "id": str(instrument.id),
        "class": instrument.asset_class,
        "exchange": instrument.exchange,
        "symbol": instrument.symbol,
        "name": instrument.name,
        "status": instrument.status,
        "tradable": instrument.tradable,
        "marginable": instrument.marginable,
        "shortable": instrument.shortable,
        "easy_to_borrow": instrument.shortable,
        "fractionable": instrument.fractionable,
        "maintenance_margin_requirement": (
            MARGINABLE_MAINTENANCE_PERCENT if instrument.marginable else NON_MARGINABLE_MAINTENANCE_PERCENT
        ),
        "attributes": [],
    }
