"""Parsing of a search box's text into the keys the engines match on.

Everything the engines see is derived here, so hostile input is neutralised once: control
characters are dropped, Unicode is folded to ASCII where it has an ASCII form, and the keys
keep only [a-z0-9]. LIKE wildcards and tsquery syntax therefore never reach PostgreSQL as
operators (the engine still escapes LIKE patterns, as a second line of defence).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from apps.instruments.models import AssetClass, Exchange

MAX_QUERY_LENGTH = 64
MAX_WORDS = 8
DEFAULT_LIMIT = 10
MAX_LIMIT = 50

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_LEADING_THE = re.compile(r"^the\s+")


class SearchQueryError(ValueError):
    """The request cannot be searched; `message` is safe to show to the customer."""

    def __init__(self, message: str, *, field_name: str):
        super().__init__(message)
        self.message = message
        self.field_name = field_name


@dataclass(frozen=True)
class SearchFilters:
    exchange: str | None = None
    asset_class: str | None = None
    tradable_only: bool = False


@dataclass(frozen=True)
class SearchQuery:
    text: str  # normalised: lower case, ASCII, single spaces
    symbol_key: str  # upper case, [A-Z0-9] only: "brk b" -> "BRKB"
    name_key: str  # lower case, [a-z0-9] only, leading "the" dropped: "coca-cola" -> "cocacola"
    words: tuple[str, ...]  # [a-z0-9]+ words of the text, at most MAX_WORDS
    limit: int = DEFAULT_LIMIT
    filters: SearchFilters = field(default_factory=SearchFilters)

    @property
    def is_empty(self) -> bool:
        return not self.symbol_key


def _fold(raw: str) -> str:
    # NFKD splits accents from letters ("é" -> "e" + combining mark) and folds full-width forms;
    # the marks and every other non-ASCII or control character then go.
    decomposed = unicodedata.normalize("NFKD", raw)
    kept = []
    for char in decomposed:
        if unicodedata.category(char).startswith(("C", "M", "Z")):
            kept.append(" " if unicodedata.category(char) in {"Zs", "Zl", "Zp", "Cc"} else "")
        else:
            kept.append(char)
    return "".join(kept).encode("ascii", "ignore").decode("ascii")


def search_query_parse(
    *,
    text: str | None,
    limit: int | str | None = None,
    exchange: str | None = None,
    asset_class: str | None = None,
    tradable_only: bool | str | None = None,
) -> SearchQuery:
    """Validate and normalise a search request. Raises SearchQueryError on bad input.

    An empty or punctuation-only text is valid and yields an empty query (no results): the
    autocomplete sends one whenever the box is cleared.
    """
    raw = text or ""
    if len(raw) > MAX_QUERY_LENGTH:
        raise SearchQueryError(f"q must be at most {MAX_QUERY_LENGTH} characters", field_name="q")
    folded = " ".join(_fold(raw).lower().split())
    words = tuple(w for w in _NON_ALNUM.split(folded) if w)[:MAX_WORDS]
    symbol_key = "".join(words).upper()
    name_key = _NON_ALNUM.sub("", _LEADING_THE.sub("", folded))
    return SearchQuery(
        text=" ".join(words),
        symbol_key=symbol_key,
        name_key=name_key,
        words=words,
        limit=_parse_limit(limit),
        filters=SearchFilters(
            exchange=_parse_choice(exchange, Exchange.values, "exchange", upper=True),
            asset_class=_parse_choice(asset_class, AssetClass.values, "asset_class", upper=False),
            tradable_only=_parse_bool(tradable_only, "tradable"),
        ),
    )


def _parse_limit(value: int | str | None) -> int:
    if value is None or value == "":
        return DEFAULT_LIMIT
    if isinstance(value, str):
        if not value.isascii() or not value.strip().isdigit():
            raise SearchQueryError(f"limit must be an integer between 1 and {MAX_LIMIT}", field_name="limit")
        value = int(value.strip())
    if not 1 <= value <= MAX_LIMIT:
        raise SearchQueryError(f"limit must be an integer between 1 and {MAX_LIMIT}", field_name="limit")
    return value


def _parse_choice(value: str | None, allowed: list[str], name: str, *, upper: bool) -> str | None:
    if value is None or value == "":
        return None
    normalised = value.strip().upper() if upper else value.strip().lower()
    if normalised not in allowed:
        raise SearchQueryError(f"{name} must be one of: {', '.join(allowed)}", field_name=name)
    return normalised


def _parse_bool(value: bool | str | None, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if value is None or value == "":
        return False
    lowered = value.strip().lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    raise SearchQueryError(f"{name} must be true or false", field_name=name)
