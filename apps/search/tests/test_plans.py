"""No search statement scans the instruments table: EXPLAIN on 20,000 instruments shows the
search indexes in every tier (the planner prefers a sequential scan on a small table, so the
table is filled first with generated listings, as in the benchmark)."""

from __future__ import annotations

import pytest
from django.db import connection

from apps.instruments.services import instruments_load
from apps.search.engines.postgres import PostgresEngine
from apps.search.query import search_query_parse
from tests.benchmarks.search import generated_listings

QUERIES = ["a", "co", "goo", "apple", "berkshire b", "micrsoft", "gloden chmicals", "brk b"]


def _plan(sql: str, params: dict) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
def test_every_tier_uses_an_index_on_a_large_table(listings_db):
    real = {listing.symbol for listing in listings_db}
    instruments_load(listings=generated_listings(count=20_000, exclude_symbols=real))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE instruments_instrument")
        cursor.execute("ANALYZE search_instrument_word")
        cursor.execute("SELECT count(*) FROM instruments_instrument")
        assert cursor.fetchone()[0] >= 20_000
    engine = PostgresEngine()
    with connection.cursor() as cursor:
        engine.configure(cursor)  # the test runs in a transaction, like PostgresEngine.search
    for text in QUERIES:
        query = search_query_parse(text=text, limit=10)
        plans = [_plan(*engine.ranked_sql(query))]
        fuzzy_sql, params = engine.fuzzy_sql(query, "(gloden:* | golden) & chemicals:*", [])
        if fuzzy_sql:
            plans.append(_plan(fuzzy_sql, params))
        long_words = [word for word in query.words if len(word) >= 3]  # as PostgresEngine._fuzzy passes them
        if long_words:
            plans.append(_plan(*engine.corrections_sql(long_words)))
        for plan in plans:
            assert "Seq Scan on instruments_instrument" not in plan, f"{text!r}:\n{plan}"
            assert "Seq Scan on search_instrument_word" not in plan, f"{text!r}:\n{plan}"
            assert "search_instr_" in plan or "search_instrument_word" in plan or "pkey" in plan, plan
