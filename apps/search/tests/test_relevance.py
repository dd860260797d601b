"""Relevance of the PostgreSQL engine over the real US listings: query -> expected first result."""

from __future__ import annotations

import pytest

from apps.search.engines import engine
from apps.search.engines.base import MatchTier
from apps.search.query import search_query_parse
from apps.search.selectors import instrument_hits_search

from .relevance_cases import RELEVANCE_CASES


def test_suite_is_large_enough():
    assert len(RELEVANCE_CASES) >= 60
    assert engine().name == "postgres"


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "expected"), RELEVANCE_CASES, ids=[case[0] for case in RELEVANCE_CASES])
def test_first_result(listings_db, text, expected):
    hits = instrument_hits_search(query=search_query_parse(text=text, limit=5))
    assert hits, f"{text!r} found nothing"
    assert hits[0].instrument.symbol == expected, [(h.instrument.symbol, h.tier.name) for h in hits]


@pytest.mark.django_db
def test_tiers_come_in_order_and_ties_go_to_popularity(listings_db):
    hits = instrument_hits_search(query=search_query_parse(text="goo", limit=10))
    tiers = [hit.tier for hit in hits]
    assert tiers == sorted(tiers)
    same_tier = [hit.instrument.popularity for hit in hits if hit.tier == MatchTier.PREFIX]
    assert same_tier == sorted(same_tier, reverse=True)
    exact = instrument_hits_search(query=search_query_parse(text="goog", limit=10))
    assert exact[0].tier == MatchTier.EXACT_SYMBOL
    assert exact[1].instrument.symbol == "GOOGL" and exact[1].tier == MatchTier.PREFIX


@pytest.mark.django_db
def test_typo_matches_only_after_as_typed_matches(listings_db):
    hits = instrument_hits_search(query=search_query_parse(text="micrsoft", limit=10))
    assert hits[0].instrument.symbol == "MSFT" and hits[0].tier == MatchTier.FUZZY
    full = instrument_hits_search(query=search_query_parse(text="APPL", limit=50))
    assert [h.tier for h in full] == sorted(h.tier for h in full)


@pytest.mark.django_db
def test_filters_apply_to_every_tier(listings_db):
    nyse = instrument_hits_search(query=search_query_parse(text="a", limit=50, exchange="nyse"))
    assert nyse and {hit.instrument.exchange for hit in nyse} == {"NYSE"}
    apple = instrument_hits_search(query=search_query_parse(text="apple", limit=50, exchange="NYSE"))
    assert "AAPL" not in {hit.instrument.symbol for hit in apple}
    typo = instrument_hits_search(query=search_query_parse(text="micrsoft", limit=10, exchange="NYSE"))
    assert "MSFT" not in {hit.instrument.symbol for hit in typo}
