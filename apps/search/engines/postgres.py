# ruff: noqa: S608 - SQL is assembled from this module's constants only; every value is a bound parameter.
"""PostgreSQL engine: btree prefix lookups, full-text word prefixes and pg_trgm, all index-backed.

Every candidate set comes from one of the expression indexes created in
apps/search/migrations/0001_search_indexes.py (the expressions below must match them verbatim
or the planner falls back to scanning the table). Each tier is a separate LIMITed subquery, so
the work is bounded by the rows an index returns for that tier, never by the table size. The
fuzzy tier runs only when the cheaper tiers did not fill the page: its matches always rank
below theirs, so skipping it cannot change the answer.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction

from apps.instruments.models import Instrument

from ..query import SearchQuery
from .base import MatchTier, SearchHit

SYMBOL_KEY = "regexp_replace(upper(symbol), '[^A-Z0-9]', '', 'g')"
NAME_KEY = "regexp_replace(lower(name), '^the |[^a-z0-9]', '', 'g')"
NAME_TSV = "to_tsvector('simple'::regconfig, name)"
NAME_TRGM = "lower(name)"

# Trigram thresholds: symbols are short, so one wrong letter already costs half the trigrams.
SYMBOL_SIMILARITY_THRESHOLD = 0.3
NAME_WORD_SIMILARITY_THRESHOLD = 0.4
# Tiers below exact-symbol need this many characters before they are worth their cost.
MIN_WORDS_CHARS = 2
MIN_FUZZY_CHARS = 3
# A fuzzy match's similarity is scaled by up to (1 + POPULARITY_WEIGHT) for the most popular
# instruments, so "GOGLE" finds Alphabet's GOOGL before an obscure symbol one letter closer.
POPULARITY_WEIGHT = 1.0
FILLER_WORDS = frozenset({"and", "of", "the"})
# Bounds that keep the fuzzy tier's work independent of the table size.
CORRECTIONS_PER_WORD = 6
FUZZY_CANDIDATES = 200
MAX_SYMBOL_FUZZY_CHARS = 8
# Word matches read from the full-text index per query, before ranking by popularity. A word
# common enough to exceed it ("corporation") ranks on an arbitrary subset of its matches; such
# queries are answered by the prefix tiers, which always rank above the word tier.
WORDS_SCAN_CAP = 500
POPULARITY_SCALE = 100_000_000


def like_prefix(value: str) -> str:
    """A LIKE pattern matching strings that start with `value` literally (ESCAPE '\\')."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def meaningful_words(words: tuple[str, ...]) -> list[str]:
    """Words that must appear in a name: filler words go ("johnson and johnson" is spelled with "&"),
    unless nothing else is left. Only [a-z0-9]+ words pass, so no tsquery syntax can leak in."""
    safe = [word for word in words if word.isascii() and word.isalnum()]
    kept = [word for word in safe if word not in FILLER_WORDS]
    return kept or safe


def tsquery_prefix(words: tuple[str, ...]) -> str:
    """'berkshire b' -> 'berkshire:* & b:*'."""
    return " & ".join(f"{word}:*" for word in meaningful_words(words))


class PostgresEngine:
    name = "postgres"

    def _filters(self, query: SearchQuery, params: dict[str, Any]) -> str:
        clauses = []
        if query.filters.exchange:
            clauses.append("exchange = %(exchange)s")
            params["exchange"] = query.filters.exchange
        if query.filters.asset_class:
            clauses.append("asset_class = %(asset_class)s")
            params["asset_class"] = query.filters.asset_class
        if query.filters.tradable_only:
            clauses.append("tradable AND status = 'active'")
        return "".join(f" AND {clause}" for clause in clauses)

    def ranked_sql(self, query: SearchQuery) -> tuple[str, dict[str, Any]]:
        """The exact, prefix and word tiers as one statement returning (id, tier) in rank order."""
        params: dict[str, Any] = {"limit": query.limit, "symbol_key": query.symbol_key}
        where = self._filters(query, params)
        limit = "ORDER BY popularity DESC, symbol LIMIT %(limit)s"
        parts = [
            f"(SELECT id, {MatchTier.EXACT_SYMBOL:d} AS tier FROM instruments_instrument "
            f"WHERE {SYMBOL_KEY} = %(symbol_key)s{where} LIMIT %(limit)s)",
            f"(SELECT id, {MatchTier.PREFIX:d} FROM instruments_instrument "
            f"WHERE {SYMBOL_KEY} LIKE %(symbol_prefix)s ESCAPE '\\'{where} {limit})",
        ]
        params["symbol_prefix"] = like_prefix(query.symbol_key)
        if query.name_key:
            params["name_prefix"] = like_prefix(query.name_key)
            parts.append(
                f"(SELECT id, {MatchTier.PREFIX:d} FROM instruments_instrument "
                f"WHERE {NAME_KEY} LIKE %(name_prefix)s ESCAPE '\\'{where} {limit})"
            )
        tsquery = tsquery_prefix(query.words)
        if tsquery and len(query.name_key) >= MIN_WORDS_CHARS:
            params["tsquery"] = tsquery
            params["scan_cap"] = WORDS_SCAN_CAP
            parts.append(
                f"(SELECT id, {MatchTier.WORDS:d} FROM (SELECT id, popularity, symbol FROM instruments_instrument "
                f"WHERE {NAME_TSV} @@ to_tsquery('simple', %(tsquery)s){where} LIMIT %(scan_cap)s) words {limit})"
            )
        sql = (
            "SELECT m.id, m.tier FROM (SELECT id, min(tier) AS tier FROM ("
            + " UNION ALL ".join(parts)
            + ") candidates GROUP BY id) m JOIN instruments_instrument i ON i.id = m.id "
            "ORDER BY m.tier, i.popularity DESC, length(i.symbol), i.symbol LIMIT %(limit)s"
        )
        return sql, params

    def corrections_sql(self, words: list[str]) -> tuple[str, dict[str, Any]]:
        """Up to CORRECTIONS_PER_WORD dictionary words per query word, closest first."""
        sql = (
            "SELECT q.position, c.word FROM unnest(%(words)s::text[]) WITH ORDINALITY AS q(word, position) "
            "CROSS JOIN LATERAL (SELECT w.word FROM search_instrument_word w WHERE q.word <%% w.word "
            # a word spelled exactly as in some name is taken as meant: no alternatives for it
            "AND NOT EXISTS (SELECT FROM search_instrument_word e WHERE e.word = q.word) "
            "ORDER BY word_similarity(q.word, w.word) DESC, similarity(q.word, w.word) DESC, w.word "
            "LIMIT %(per_word)s) c"
        )
        return sql, {"words": words, "per_word": CORRECTIONS_PER_WORD}

    def fuzzy_sql(self, query: SearchQuery, tsquery: str, exclude: list[Any]) -> tuple[str, dict[str, Any]]:
        """Candidates from corrected words (full-text index) and similar symbols (trigram index),
        each bounded, re-ranked by trigram similarity to the query scaled by popularity."""
        params: dict[str, Any] = {
            "limit": query.limit,
            "symbol_key": query.symbol_key,
            "text": query.text,
            "name_key": query.name_key,
            "exclude": exclude,
            "scale": POPULARITY_SCALE,
            "weight": POPULARITY_WEIGHT,
            "candidates": FUZZY_CANDIDATES,
        }
        where = self._filters(query, params) + " AND NOT (id = ANY(%(exclude)s))"
        sources = []
        if tsquery:
            params["tsquery"] = tsquery
            params["scan_cap"] = WORDS_SCAN_CAP
            sources.append(
                "(SELECT id FROM (SELECT id, popularity FROM instruments_instrument "
                f"WHERE {NAME_TSV} @@ to_tsquery('simple', %(tsquery)s){where} LIMIT %(scan_cap)s) words "
                "ORDER BY popularity DESC LIMIT %(candidates)s)"
            )
        if MIN_FUZZY_CHARS <= len(query.symbol_key) <= MAX_SYMBOL_FUZZY_CHARS:
            sources.append(
                f"(SELECT id FROM instruments_instrument WHERE {SYMBOL_KEY} %% %(symbol_key)s{where} "
                f"ORDER BY similarity({SYMBOL_KEY}, %(symbol_key)s) DESC LIMIT %(candidates)s)"
            )
        if not sources:
            return "", params
        sql = (
            "SELECT i.id FROM (" + " UNION ".join(sources) + ") candidates "
            "JOIN instruments_instrument i ON i.id = candidates.id "
            f"ORDER BY greatest(similarity({SYMBOL_KEY}, %(symbol_key)s), "
            f"word_similarity(%(text)s, {NAME_TRGM}), word_similarity(%(name_key)s, {NAME_KEY})) "
            "* (1 + %(weight)s * least(i.popularity, %(scale)s)::float8 / %(scale)s) DESC, i.symbol "
            "LIMIT %(limit)s"
        )
        return sql, params

    def _fuzzy(self, cursor: Any, query: SearchQuery, exclude: list[Any]) -> list[Any]:
        words = meaningful_words(query.words)
        long_words = [word for word in words if len(word) >= MIN_FUZZY_CHARS]
        corrections: dict[int, list[str]] = {}
        known: set[str] = set()
        if long_words:
            sql, params = self.corrections_sql(long_words)
            cursor.execute(sql, params)
            for position, word in cursor.fetchall():
                corrections.setdefault(position - 1, []).append(word)
            cursor.execute("SELECT word FROM search_instrument_word WHERE word = ANY(%s)", [long_words])
            known = {row[0] for row in cursor.fetchall()}
        groups: list[str] = []
        long_groups: list[str] = []
        corrected = False
        long_position = 0
        for word in words:
            if len(word) < MIN_FUZZY_CHARS:
                groups.append(f"{word}:*")
                continue
            alternatives = corrections.get(long_position, [])
            long_position += 1
            if alternatives:
                corrected = True
                groups.append("(" + " | ".join([f"{word}:*", *alternatives]) + ")")
                long_groups.append(groups[-1])
            elif word in known:
                groups.append(f"{word}:*")
                long_groups.append(groups[-1])
            # A word with no close dictionary word is left out rather than failing the whole query.
        # Without a corrected word the words tier has already run this exact query.
        attempts = [" & ".join(groups)] if corrected else [""]
        if corrected and len(groups) > 1:
            # Nothing has every word: accept any of the longer ones, the re-ranking sorts them out.
            attempts.append(" | ".join(long_groups))
        for tsquery in attempts:
            sql, params = self.fuzzy_sql(query, tsquery, exclude)
            if not sql:
                return []
            cursor.execute(sql, params)
            found = [row[0] for row in cursor.fetchall()]
            if found:
                return found
        return []

    def configure(self, cursor: Any) -> None:
        """Per-transaction planner and pg_trgm settings (SET LOCAL: the pooled connection goes
        back to the pool with its defaults). Every statement here has an index path for each
        tier, so sequential scans are ruled out: a misestimate must not turn into a read of the
        whole table (a LIMIT over a rare word would otherwise scan until the end)."""
        cursor.execute(
            "SELECT set_config('enable_seqscan', 'off', true), "
            "set_config('pg_trgm.similarity_threshold', %s, true), "
            "set_config('pg_trgm.word_similarity_threshold', %s, true)",
            [str(SYMBOL_SIMILARITY_THRESHOLD), str(NAME_WORD_SIMILARITY_THRESHOLD)],
        )

    def search(self, query: SearchQuery) -> list[SearchHit]:
        if query.is_empty:
            return []
        ranked: list[tuple[Any, MatchTier]] = []
        with transaction.atomic(), connection.cursor() as cursor:
            self.configure(cursor)
            sql, params = self.ranked_sql(query)
            cursor.execute(sql, params)
            ranked = [(row[0], MatchTier(row[1])) for row in cursor.fetchall()]
            if len(ranked) < query.limit and len(query.symbol_key) >= MIN_FUZZY_CHARS:
                fuzzy = self._fuzzy(cursor, query, [instrument_id for instrument_id, _ in ranked])
                ranked.extend((instrument_id, MatchTier.FUZZY) for instrument_id in fuzzy[: query.limit - len(ranked)])
            by_id = Instrument.objects.in_bulk([instrument_id for instrument_id, _ in ranked])
        return [SearchHit(instrument=by_id[i], tier=tier) for i, tier in ranked if i in by_id]
