"""Reads: instrument search through the configured engine."""

from __future__ import annotations

from apps.instruments.models import Instrument

from .engines import SearchHit, engine
from .query import SearchQuery


def instruments_search(*, query: SearchQuery) -> list[Instrument]:
    """Instruments for a parsed query, best match first (see engines/base.py for the ranking)."""
    return [hit.instrument for hit in instrument_hits_search(query=query)]


def instrument_hits_search(*, query: SearchQuery) -> list[SearchHit]:
    """Like instruments_search, with the tier each instrument matched on (for tests and tuning)."""
    if query.is_empty:
        return []
    return engine().search(query)
