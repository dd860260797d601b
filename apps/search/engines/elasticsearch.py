"""Elasticsearch engine (django-elasticsearch-dsl); chosen when ELASTICSEARCH_URL is set."""

from __future__ import annotations

from apps.instruments.models import Instrument

from ..documents import InstrumentDocument
from ..query import SearchQuery
from .base import MatchTier, SearchHit
from .es_query import search_body, tier_of

_TIERS = {
    "exact_symbol": MatchTier.EXACT_SYMBOL,
    "prefix": MatchTier.PREFIX,
    "words": MatchTier.WORDS,
    "fuzzy": MatchTier.FUZZY,
}


class ElasticsearchEngine:
    name = "elasticsearch"

    def search(self, query: SearchQuery) -> list[SearchHit]:
        if query.is_empty:
            return []
        response = InstrumentDocument.search().update_from_dict(search_body(query)).execute()
        ranked = [(hit.meta.id, _TIERS[tier_of(float(hit.meta.score or 0))]) for hit in response]
        by_id = {str(pk): row for pk, row in Instrument.objects.in_bulk([pk for pk, _ in ranked]).items()}
        return [SearchHit(instrument=by_id[pk], tier=tier) for pk, tier in ranked if pk in by_id]
