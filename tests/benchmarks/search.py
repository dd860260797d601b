"""Instrument search at 100,000 instruments: latency of the configured engine and relevance.

The real US listings (~1,100) plus deterministic generated small caps with realistic names go
into a separate, throwaway database (created through Django's test-database machinery and
dropped afterwards), so the dev data is never touched. Generated symbols live in their own
space (five letters ending in F or Y, like OTC foreign ordinaries and ADRs) so they never
collide with a real listing; their popularity is revenue alone (no index membership), which is
what instruments_load gives any listing outside the tracked indices.

    make bench SCENARIO=search                       # 100,000 instruments, 12,000 queries
    python -m tests.benchmarks search 20000 3000     # smaller: instruments, queries
"""

from __future__ import annotations

import random
import statistics
import string
import time
from collections.abc import Iterable

from apps.instruments.models import Exchange
from apps.instruments.services import Listing

SEED = 20261124
GENERATED_SYMBOL_ENDINGS = "FY"


def _pool(words: str) -> tuple[str, ...]:
    return tuple(words.split())


_PLACES = _pool(
    "Atlantic Pacific Northern Southern Eastern Western Central Summit Harbor Cedar Granite Redwood "
    "Lakeside Prairie Coastal Highland Valley River Canyon Mesa Ridge Delta Frontier Heartland Bay "
    "Golden Silver Iron Copper Blue Green Red Black White Evergreen Pinnacle Keystone Liberty Patriot "
    "Sterling Crown Royal Union National American Continental Global Mid-America Great Lakes Rocky "
    "Mountain Gulf Coast Sun Belt Tri-County First Citizens Peoples Farmers Merchants "
)
_SECTOR_WORDS = _pool(
    "Energy Therapeutics Biosciences Pharmaceuticals Semiconductor Logistics Networks Foods Minerals "
    "Realty Capital Financial Software Systems Brands Retail Industries Technologies Materials "
    "Resources Bancshares Insurance Healthcare Diagnostics Genomics Robotics Aerospace Mining Oil Gas "
    "Power Utilities Water Communications Media Entertainment Hospitality Apparel Chemicals Steel "
    "Paper Packaging Transport Shipping Airlines Motors Devices Instruments Labs Solutions Analytics "
    "Data Cloud Security Payments Lending Mortgage Properties Land Timber Agriculture Nutrition "
)
_SUFFIXES = (
    "Inc.", "Corp.", "Corporation", "Holdings", "Group", "Ltd.", "Co.", "Trust", "Partners LP",
    "Bancorp", "Holdings, Inc.", "International", "Company", "plc", "N.V.", "Acquisition Corp.",
)
_SYLLABLES = _pool(
    "al ar ba be ca co da de el en fa fi ga ge ha in ka ki la lo ma mi na no or pa pe qu ra re sa si "
    "ta te tri ul va ve vi xa ze zo tek vor lex nov cor dyn ion gen syn med bio "
)


def _coined(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def generated_listings(*, count: int, seed: int = SEED, exclude_symbols: Iterable[str] = ()) -> list[Listing]:
    """`count` deterministic small-cap listings with realistic names (same seed, same listings)."""
    rng = random.Random(seed)
    taken = set(exclude_symbols)
    listings: list[Listing] = []
    exchanges = [Exchange.NASDAQ, Exchange.NYSE, Exchange.AMEX, Exchange.ARCA, Exchange.BATS]
    while len(listings) < count:
        symbol = "".join(rng.choices(string.ascii_uppercase, k=4)) + rng.choice(GENERATED_SYMBOL_ENDINGS)
        if symbol in taken:
            continue
        taken.add(symbol)
        style = rng.random()
        if style < 0.4:
            name = f"{_coined(rng)} {rng.choice(_SECTOR_WORDS)} {rng.choice(_SUFFIXES)}"
        elif style < 0.8:
            name = f"{rng.choice(_PLACES)} {rng.choice(_SECTOR_WORDS)} {rng.choice(_SUFFIXES)}"
        else:
            name = f"{_coined(rng)} {rng.choice(_SUFFIXES)}"
        listings.append(
            Listing(
                symbol=symbol,
                name=name,
                exchange=rng.choice(exchanges),
                revenue_millions=min(int(rng.lognormvariate(5, 1.6)), 999_999),
            )
        )
    return listings


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:  # drop a letter
        return word[:i] + word[i + 1 :]
    if kind == 1:  # swap two neighbours
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + rng.choice(string.ascii_lowercase) + word[i + 1 :]  # wrong letter


def query_mix(*, symbols: list[str], names: list[str], count: int, seed: int = SEED) -> list[str]:
    """As-you-type prefixes of symbols (1-6 characters) and names, whole names, typos."""
    rng = random.Random(seed + 1)
    queries: list[str] = []
    while len(queries) < count:
        kind = rng.random()
        if kind < 0.35:
            symbol = rng.choice(symbols)
            queries.append(symbol[: rng.randint(1, min(6, len(symbol)))].lower())
        elif kind < 0.6:
            name = rng.choice(names)
            queries.append(name[: rng.randint(2, min(12, len(name)))])
        elif kind < 0.8:
            queries.append(rng.choice(names))
        else:
            words = rng.choice(names).lower().split()[:2]
            queries.append(" ".join(_typo(rng, word) for word in words))
    return queries


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def relevance_pass_rate() -> tuple[float, list[tuple[str, str, str | None]]]:
    from apps.search.query import search_query_parse
    from apps.search.selectors import instruments_search
    from apps.search.tests.relevance_cases import RELEVANCE_CASES

    failures = []
    for text, expected in RELEVANCE_CASES:
        results = instruments_search(query=search_query_parse(text=text, limit=5))
        first = results[0].symbol if results else None
        if first != expected:
            failures.append((text, expected, first))
    return 1 - len(failures) / len(RELEVANCE_CASES), failures


def run(*args: str) -> dict:
    import sys

    from django.conf import settings
    from django.db import connection

    from apps.instruments.models import Instrument
    from apps.instruments.services import instruments_load, us_listings
    from apps.search.engines import engine
    from apps.search.query import search_query_parse
    from apps.search.selectors import instruments_search

    total = int(args[0]) if args else 100_000
    query_count = int(args[1]) if len(args) > 1 else 12_000
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = "bench_search"
    original_name = settings.DATABASES["default"]["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        real = us_listings()
        instruments_load(listings=real)
        generated = generated_listings(count=total - len(real), exclude_symbols=[r.symbol for r in real])
        started = time.perf_counter()
        instruments_load(listings=generated)
        load_seconds = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE instruments_instrument")
        instruments = Instrument.objects.count()
        rows = list(Instrument.objects.values_list("symbol", "name"))
        queries = query_mix(symbols=[s for s, _ in rows], names=[n for _, n in rows], count=query_count)
        parsed = [search_query_parse(text=q, limit=10) for q in queries]
        for query in parsed[:200]:  # warm the pool and the buffer cache
            instruments_search(query=query)
        timings = []
        started = time.perf_counter()
        for query in parsed:
            t0 = time.perf_counter()
            instruments_search(query=query)
            timings.append((time.perf_counter() - t0) * 1000)
        elapsed = time.perf_counter() - started
        pass_rate, failures = relevance_pass_rate()
        for text, expected, got in failures:
            print(f"relevance miss at {instruments}: {text!r} expected {expected} got {got}", file=sys.stderr)
        figures = {
            "engine": engine().name,
            "instruments": instruments,
            "queries": len(parsed),
            "p50_ms": round(statistics.median(timings), 3),
            "p99_ms": round(_percentile(timings, 0.99), 3),
            "max_ms": round(max(timings), 3),
            "queries_per_s": round(len(parsed) / elapsed, 1),
            "relevance_pass_rate": round(pass_rate, 4),
            "load_seconds": round(load_seconds, 1),
        }
        figures["relevance_misses"] = len(failures)
        return figures
    finally:
        connection.creation.destroy_test_db(original_name, verbosity=0)
