"""Reads of market data: the latest quote per symbol lives in Redis (`quote:<SYMBOL>` hash),
bars in Redis for 7 days (`bar:<TF>:<SYM>:<bucket>`) and daily bars in PostgreSQL (DailyBar).
The layout is described in services.py."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from apps.ops.clients import redis_client

QUOTE_KEY = "quote:{symbol}"
_MARKET_TZ = ZoneInfo("America/New_York")


def bar_key(*, timeframe: str, symbol: str, bucket: str) -> str:
    return f"bar:{timeframe}:{symbol}:{bucket}"


def bar_index_key(*, timeframe: str, symbol: str) -> str:
    return f"bars:{timeframe}:{symbol}"


@dataclass(frozen=True)
class Quote:
    symbol: str
    bid: Decimal | None
    ask: Decimal | None
    bid_size: Decimal | None
    ask_size: Decimal | None
    last: Decimal | None
    change: Decimal | None
    volume: Decimal | None
    ts: datetime | None

    @property
    def reference_price(self) -> Decimal | None:
        """The price a market order is collared around: last trade, else the mid, else one side."""
        if self.last:
            return self.last
        if self.bid and self.ask:
            return (self.bid + self.ask) / 2
        return self.ask or self.bid


def _decimal(value: str | None) -> Decimal | None:
    return Decimal(value) if value else None


def quote_from_hash(symbol: str, raw: dict[str, str]) -> Quote | None:
    if not raw:
        return None
    ts = raw.get("ts")
    return Quote(
        symbol=symbol,
        bid=_decimal(raw.get("bid")),
        ask=_decimal(raw.get("ask")),
        bid_size=_decimal(raw.get("bid_size")),
        ask_size=_decimal(raw.get("ask_size")),
        last=_decimal(raw.get("last")),
        change=_decimal(raw.get("change")),
        volume=_decimal(raw.get("volume")),
        ts=datetime.fromisoformat(ts) if ts else None,
    )


def quote_latest(*, symbol: str) -> Quote | None:
    """The latest quote for `symbol`, or None when the quote store has none yet."""
    return quote_from_hash(symbol, redis_client().hgetall(QUOTE_KEY.format(symbol=symbol)))


def quotes_latest(*, symbols: list[str]) -> dict[str, Quote]:
    pipe = redis_client().pipeline(transaction=False)
    for symbol in symbols:
        pipe.hgetall(QUOTE_KEY.format(symbol=symbol))
    quotes = {}
    for symbol, raw in zip(symbols, pipe.execute(), strict=True):
        quote = quote_from_hash(symbol, raw)
        if quote is not None:
            quotes[symbol] = quote
    return quotes


def daily_close_before(*, symbol: str, day: dt.date) -> Decimal | None:
    """The close of the last persisted trading day before `day` (the reference for `change`)."""
    from apps.marketdata.models import DailyBar

    return (DailyBar.objects.filter(symbol=symbol, date__lt=day).order_by("-date")
            .values_list("close", flat=True).first())


def daily_closes(*, symbols: list[str], end: dt.date) -> dict[str, list[tuple[dt.date, Decimal]]]:
    """Persisted daily closes up to and including `end`, oldest first, per symbol."""
    from apps.marketdata.models import DailyBar

    closes: dict[str, list[tuple[dt.date, Decimal]]] = {symbol: [] for symbol in symbols}
    rows = (DailyBar.objects.filter(symbol__in=symbols, date__lte=end).order_by("symbol", "date")
            .values_list("symbol", "date", "close"))
    for symbol, day, close in rows:
        closes[symbol].append((day, close))
    return closes


class TimeframeError(ValueError):
    pass


@dataclass(frozen=True)
class Timeframe:
    amount: int
    unit: str  # "Min", "Hour" or "Day"

    @property
    def seconds(self) -> int:
        return self.amount * {"Min": 60, "Hour": 3600, "Day": 86400}[self.unit]

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


_TIMEFRAME = re.compile(r"^(\d+)(Min|T|Hour|H|Day|D)$")


def timeframe_parse(raw: str) -> Timeframe:
    """Alpaca timeframe strings: 1-59Min (or T), 1-23Hour (or H), 1Day (or D)."""
    match = _TIMEFRAME.match(raw or "")
    if not match:
        raise TimeframeError(f"invalid timeframe {raw!r}: use e.g. 1Min, 5Min, 1Hour, 1Day")
    amount, unit = int(match.group(1)), {"T": "Min", "H": "Hour", "D": "Day"}.get(match.group(2), match.group(2))
    limits = {"Min": 59, "Hour": 23, "Day": 1}
    if not 1 <= amount <= limits[unit]:
        raise TimeframeError(f"invalid timeframe {raw!r}: {unit} takes 1 to {limits[unit]}")
    return Timeframe(amount, unit)


@dataclass(frozen=True)
class Bar:
    symbol: str
    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trade_count: int
    vwap: Decimal


def _bar_from_hash(symbol: str, start: datetime, raw: dict[str, str]) -> Bar:
    volume = Decimal(raw["v"])
    vwap = (Decimal(raw["pv"]) / volume).quantize(Decimal("0.0001")) if volume else Decimal(raw["c"])
    return Bar(symbol, start, Decimal(raw["o"]), Decimal(raw["h"]), Decimal(raw["l"]), Decimal(raw["c"]),
               volume, int(raw["n"]), vwap)


def _merge(bars: list[Bar], symbol: str, start: datetime) -> Bar:
    volume = sum((b.volume for b in bars), Decimal(0))
    notional = sum((b.vwap * b.volume for b in bars), Decimal(0))
    return Bar(symbol, start, bars[0].open, max(b.high for b in bars), min(b.low for b in bars), bars[-1].close,
               volume, sum(b.trade_count for b in bars),
               (notional / volume).quantize(Decimal("0.0001")) if volume else bars[-1].close)


def _intraday_bars(symbol: str, timeframe: Timeframe, start: datetime, end: datetime) -> list[Bar]:
    client = redis_client()
    buckets = client.zrangebyscore(bar_index_key(timeframe="1Min", symbol=symbol),
                                   int(start.timestamp()) // 60 * 60, int(end.timestamp()))
    if not buckets:
        return []
    pipe = client.pipeline(transaction=False)
    for bucket in buckets:
        pipe.hgetall(bar_key(timeframe="1Min", symbol=symbol, bucket=bucket))
    minutes = [
        _bar_from_hash(symbol, datetime.fromtimestamp(int(bucket), tz=dt.UTC), raw)
        for bucket, raw in zip(buckets, pipe.execute(), strict=True) if raw
    ]
    if timeframe.seconds == 60:
        return [b for b in minutes if b.start >= start]
    grouped: dict[int, list[Bar]] = {}
    for minute in minutes:
        grouped.setdefault(int(minute.start.timestamp()) // timeframe.seconds * timeframe.seconds, []).append(minute)
    return [_merge(group, symbol, datetime.fromtimestamp(epoch, tz=dt.UTC))
            for epoch, group in sorted(grouped.items()) if epoch >= start.timestamp()]


def _day_start(day: dt.date) -> datetime:
    return datetime.combine(day, dt.time(0), tzinfo=_MARKET_TZ).astimezone(dt.UTC)


def _daily_bars(symbol: str, start: datetime, end: datetime) -> list[Bar]:
    from apps.marketdata.models import DailyBar

    first, last = start.astimezone(_MARKET_TZ).date(), end.astimezone(_MARKET_TZ).date()
    by_day = {
        row.date: Bar(symbol, _day_start(row.date), row.open, row.high, row.low, row.close, row.volume,
                      row.trade_count, row.vwap)
        for row in DailyBar.objects.filter(symbol=symbol, date__gte=first, date__lte=last)
    }
    # Redis holds the current state of days not yet flushed (or changed since): it wins.
    client = redis_client()
    days = client.zrangebyscore(bar_index_key(timeframe="1Day", symbol=symbol),
                                int(_day_start(first).timestamp()), int(_day_start(last).timestamp()))
    if days:
        pipe = client.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(bar_key(timeframe="1Day", symbol=symbol, bucket=day))
        for day, raw in zip(days, pipe.execute(), strict=True):
            if raw:
                date = dt.date.fromisoformat(day)
                by_day[date] = _bar_from_hash(symbol, _day_start(date), raw)
    return [by_day[day] for day in sorted(by_day)]


def bars_for_symbols(*, symbols: list[str], timeframe: Timeframe, start: datetime, end: datetime
                     ) -> dict[str, list[Bar]]:
    """Bars per symbol, oldest first, whose start lies in [start, end]. Intraday timeframes reach
    back 7 days (the Redis window); daily bars as far as PostgreSQL holds them."""
    result: dict[str, list[Bar]] = {}
    for symbol in symbols:
        if timeframe.unit == "Day":
            bars = _daily_bars(symbol, start, end)
        else:
            bars = _intraday_bars(symbol, timeframe, start, end)
        bars = [b for b in bars if start <= b.start <= end]
        if bars:
            result[symbol] = bars
    return result
