"""Elasticsearch engine: the index mapping and the query body are unit-tested here without a
server; the integration test runs only when ELASTICSEARCH_URL names one."""

from __future__ import annotations

import pytest
from django.conf import settings

from apps.search.engines.es_query import TIER_BOOSTS, search_body, tier_of
from apps.search.query import search_query_parse


def test_mapping_has_edge_ngrams_for_prefixes():
    from apps.search.documents import InstrumentDocument, name_key, symbol_key

    index = InstrumentDocument._index.to_dict()
    analysis = index["settings"]["analysis"]
    assert analysis["filter"]["instrument_edge_ngram"]["type"] == "edge_ngram"
    assert "instrument_edge_ngram" in analysis["analyzer"]["instrument_name_prefix"]["filter"]
    properties = index["mappings"]["properties"]
    assert properties["name"]["fields"]["prefix"]["analyzer"] == "instrument_name_prefix"
    assert properties["name"]["fields"]["prefix"]["search_analyzer"] == "instrument_name"
    assert properties["symbol_key"]["search_analyzer"] == "keyword"
    for keyword in ("symbol", "exchange", "asset_class", "status"):
        assert properties[keyword]["type"] == "keyword"
    assert properties["popularity"]["type"] == "long"
    assert symbol_key("BRK.B") == "BRKB" and name_key("The Coca-Cola Company") == "cocacolacompany"
    assert InstrumentDocument.django.ignore_signals is True


def test_query_body_tiers_boosts_filters_and_sort():
    body = search_body(search_query_parse(text="Berkshire B", limit=7, exchange="nyse", tradable_only="true"))
    tiers = body["query"]["bool"]["must"][0]["dis_max"]["queries"]
    boosts = [tier["constant_score"]["boost"] for tier in tiers]
    assert boosts == sorted(boosts, reverse=True) == list(TIER_BOOSTS.values())
    assert tiers[0]["constant_score"]["filter"] == {"term": {"symbol_key": "BERKSHIREB"}}
    assert tiers[2]["constant_score"]["filter"]["match"]["name.prefix"] == {"query": "berkshire b", "operator": "and"}
    fuzzy = tiers[3]["constant_score"]["filter"]["bool"]["should"]
    assert fuzzy[0]["match"]["name"]["fuzziness"] == "AUTO"
    assert body["query"]["bool"]["filter"] == [
        {"term": {"exchange": "NYSE"}},
        {"term": {"tradable": True}},
        {"term": {"status": "active"}},
    ]
    assert body["sort"] == [{"_score": "desc"}, {"popularity": "desc"}, {"symbol": "asc"}]
    assert body["size"] == 7 and body["track_scores"] is True
    assert [tier_of(score) for score in (1000, 100, 10, 1)] == list(TIER_BOOSTS)


@pytest.mark.django_db
def test_integration_against_a_real_server(listings_db):
    if not settings.ELASTICSEARCH_URL:
        pytest.skip("ELASTICSEARCH_URL is not set: Elasticsearch integration test not run (no server configured)")
    from apps.search.selectors import instruments_search
    from apps.search.services import search_index_rebuild

    from .relevance_cases import RELEVANCE_CASES

    search_index_rebuild()
    misses = []
    for text, expected in RELEVANCE_CASES:
        results = instruments_search(query=search_query_parse(text=text, limit=5))
        if not results or results[0].symbol != expected:
            misses.append((text, expected, [r.symbol for r in results]))
    assert not misses
