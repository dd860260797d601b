"""The Elasticsearch request body for a search: pure data, so it is unit-tested without a server.

Same contract as the PostgreSQL engine: a dis_max over constant-score tiers (exact symbol >
symbol or name prefix > every word as a prefix > typo-tolerant match), so the score is the best
tier an instrument reaches; ties are broken by popularity, then symbol, in the sort.
"""

from __future__ import annotations

from typing import Any

from ..query import SearchQuery

TIER_BOOSTS = {"exact_symbol": 1000.0, "prefix": 100.0, "words": 10.0, "fuzzy": 1.0}


def search_body(query: SearchQuery) -> dict[str, Any]:
    tiers: list[dict[str, Any]] = [
        {
            "constant_score": {
                "filter": {"term": {"symbol_key": query.symbol_key}},
                "boost": TIER_BOOSTS["exact_symbol"],
            }
        },
        {
            "constant_score": {
                "filter": {
                    "bool": {
                        "should": [
                            {"prefix": {"symbol_key": query.symbol_key}},
                            {"prefix": {"name_key": query.name_key}} if query.name_key else {"match_none": {}},
                        ]
                    }
                },
                "boost": TIER_BOOSTS["prefix"],
            }
        },
    ]
    if query.text:
        tiers.append(
            {
                "constant_score": {
                    "filter": {"match": {"name.prefix": {"query": query.text, "operator": "and"}}},
                    "boost": TIER_BOOSTS["words"],
                }
            }
        )
        tiers.append(
            {
                "constant_score": {
                    "filter": {
                        "bool": {
                            "should": [
                                {"match": {"name": {"query": query.text, "fuzziness": "AUTO", "operator": "and"}}},
                                {"fuzzy": {"symbol_key": {"value": query.symbol_key, "fuzziness": "AUTO"}}},
                                {"match": {"name_key": {"query": query.name_key, "fuzziness": "AUTO"}}},
                            ]
                        }
                    },
                    "boost": TIER_BOOSTS["fuzzy"],
                }
            }
        )
    filters: list[dict[str, Any]] = []
    if query.filters.exchange:
        filters.append({"term": {"exchange": query.filters.exchange}})
    if query.filters.asset_class:
        filters.append({"term": {"asset_class": query.filters.asset_class}})
    if query.filters.tradable_only:
        filters.append({"term": {"tradable": True}})
        filters.append({"term": {"status": "active"}})
    return {
        "query": {"bool": {"must": [{"dis_max": {"queries": tiers}}], "filter": filters}},
        "sort": [{"_score": "desc"}, {"popularity": "desc"}, {"symbol": "asc"}],
        "size": query.limit,
        "_source": False,
        "track_scores": True,
    }


def tier_of(score: float) -> str:
    """The tier a hit's score stands for (constant scores make this exact)."""
    for name, boost in TIER_BOOSTS.items():
        if score >= boost:
            return name
    return "fuzzy"
