"""The contract every search engine honours.

Results are instruments in rank order: exact symbol first, then symbol and name prefixes, then
whole-word matches anywhere in the name, then typo-tolerant matches; ties go to the more popular
instrument (Instrument.popularity: index membership, then revenue), then to the symbol.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from apps.instruments.models import Instrument

from ..query import SearchQuery


class MatchTier(IntEnum):
    EXACT_SYMBOL = 0
    PREFIX = 1
    WORDS = 2
    FUZZY = 3


@dataclass(frozen=True)
class SearchHit:
    instrument: Instrument
    tier: MatchTier


class SearchEngine(Protocol):
    name: str

    def search(self, query: SearchQuery) -> list[SearchHit]:
        """Instruments matching `query` in rank order, at most query.limit of them."""
        ...
