"""Parsing and hostile input: validation errors, normalisation, wildcard escaping."""

from __future__ import annotations

import pytest

from apps.search.engines.postgres import like_prefix, meaningful_words, tsquery_prefix
from apps.search.query import MAX_LIMIT, MAX_QUERY_LENGTH, SearchQueryError, search_query_parse


@pytest.mark.parametrize(
    ("text", "symbol_key", "name_key", "words"),
    [
        ("  Brk.b ", "BRKB", "brkb", ("brk", "b")),
        ("The Coca-Cola Company", "THECOCACOLACOMPANY", "cocacolacompany", ("the", "coca", "cola", "company")),
        ("Estée\tLauder", "ESTEELAUDER", "esteelauder", ("estee", "lauder")),
        ("a\x00b\x07c", "ABC", "abc", ("a", "b", "c")),
        ("%_\\", "", "", ()),
        ("\uff21\uff21\uff30\uff2c", "AAPL", "aapl", ("aapl",)),  # full-width letters
        ("a:* | b & !c", "ABC", "abc", ("a", "b", "c")),
    ],
)
def test_normalisation(text, symbol_key, name_key, words):
    query = search_query_parse(text=text)
    assert (query.symbol_key, query.name_key, query.words) == (symbol_key, name_key, words)


def test_empty_and_punctuation_only_queries_are_empty():
    for text in (None, "", "   ", "%", "___", "\\\\", "\x00\x01"):
        assert search_query_parse(text=text).is_empty


def test_limits_and_length_are_enforced():
    assert search_query_parse(text="a").limit == 10
    assert search_query_parse(text="a", limit=str(MAX_LIMIT)).limit == MAX_LIMIT
    for bad in ("0", "-1", str(MAX_LIMIT + 1), "ten", "1e3", "٣"):
        with pytest.raises(SearchQueryError) as error:
            search_query_parse(text="a", limit=bad)
        assert error.value.field_name == "limit"
    search_query_parse(text="x" * MAX_QUERY_LENGTH)
    with pytest.raises(SearchQueryError):
        search_query_parse(text="x" * (MAX_QUERY_LENGTH + 1))
    with pytest.raises(SearchQueryError):
        search_query_parse(text="a", exchange="LSE")
    with pytest.raises(SearchQueryError):
        search_query_parse(text="a", tradable_only="maybe")


def test_like_wildcards_are_escaped():
    assert like_prefix("a%b_c\\") == "a\\%b\\_c\\\\%"


def test_tsquery_has_no_operators_from_input():
    assert tsquery_prefix(("berkshire", "b")) == "berkshire:* & b:*"
    assert tsquery_prefix(("johnson", "and", "johnson")) == "johnson:* & johnson:*"
    assert meaningful_words(("the",)) == ["the"]
    assert tsquery_prefix(("a:*", "b|c")) == ""
