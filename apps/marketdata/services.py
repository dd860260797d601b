"""Writes of market data: apply `market.quotes` messages to the Redis quote store and bars, and
persist daily bars to PostgreSQL.

Redis layout (readers: selectors.py):

- `quote:<SYM>` hash: bid, ask, bid_size, ask_size, last, change, volume, ts (ISO 8601 UTC, the
  newest quote or trade), plus last_size, last_ts, day (trading date), open, prev_close.
- `bar:<TF>:<SYM>:<bucket>` hash o, h, l, c, v, n, pv (sum of price*size, for the vwap), ot/ct
  (timestamps of the opening and closing trades) with a
  7-day TTL; `bars:<TF>:<SYM>` sorted set indexes the buckets (score = bucket start, epoch
  seconds). TF is `1Min` (bucket = epoch of the minute) or `1Day` (bucket = trading date).
- `bars:dirty` set of `<SYM>|<date>` daily bars changed since the last PostgreSQL flush.
- `md:seen:<event_id>` marks an applied envelope (Kafka delivery is at-least-once).

Prices and sizes stay Decimal strings end to end; the arithmetic happens here in Python under an
optimistic Redis transaction (WATCH), never in Lua doubles.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import redis
from django.db import transaction

from apps.marketdata.models import DailyBar
from apps.marketdata.selectors import QUOTE_KEY, bar_index_key, bar_key, daily_close_before
from apps.ops.clients import redis_client

logger = logging.getLogger(__name__)

MARKET_TZ = ZoneInfo("America/New_York")
BAR_WINDOW_SECONDS = 7 * 24 * 3600
SEEN_TTL_SECONDS = 24 * 3600
DIRTY_DAILY_BARS = "bars:dirty"


class MarketDataError(ValueError):
    """A market-data message that cannot be applied (corrupt or incomplete)."""


def trading_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(MARKET_TZ).date()


def trading_date_start(day: dt.date) -> dt.datetime:
    """Midnight New York of `day`, in UTC: the timestamp Alpaca gives daily bars."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=MARKET_TZ).astimezone(dt.UTC)


def parse_ts(raw: Any) -> dt.datetime:
    if not isinstance(raw, str) or not raw:
        raise MarketDataError(f"missing timestamp: {raw!r}")
    moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise MarketDataError(f"timestamp without time zone: {raw!r}")
    return moment.astimezone(dt.UTC)


def parse_decimal(raw: Any, name: str) -> Decimal:
    try:
        value = Decimal(str(raw))
    except ArithmeticError as exc:
        raise MarketDataError(f"{name} is not a number: {raw!r}") from exc
    if not value.is_finite() or value < 0:
        raise MarketDataError(f"{name} must be a finite non-negative number: {raw!r}")
    return value


@dataclass
class _Bar:
    key: str
    index_key: str
    score: int
    o: Decimal | None = None
    h: Decimal | None = None
    low: Decimal | None = None
    c: Decimal | None = None
    v: Decimal = Decimal(0)
    n: int = 0
    pv: Decimal = Decimal(0)
    ot: str = ""  # timestamps of the opening and closing trades
    ct: str = ""
    changed: bool = False

    def load(self, raw: dict[str, str]) -> None:
        if raw:
            self.o, self.h, self.low, self.c = (Decimal(raw[k]) for k in ("o", "h", "l", "c"))
            self.v, self.n, self.pv = Decimal(raw["v"]), int(raw["n"]), Decimal(raw["pv"])
            self.ot, self.ct = raw.get("ot", ""), raw.get("ct", "")

    def add(self, price: Decimal, size: Decimal, ts: str) -> None:
        # Open and close follow trade time, not arrival order: a late trade can move neither.
        if self.o is None:
            self.o = self.h = self.low = self.c = price
            self.ot = self.ct = ts
        else:
            self.h = max(self.h or price, price)
            self.low = min(self.low or price, price)
            if ts < self.ot:
                self.o, self.ot = price, ts
            if ts >= self.ct:
                self.c, self.ct = price, ts
        self.v += size
        self.n += 1
        self.pv += price * size
        self.changed = True

    def fields(self) -> dict[str, str]:
        return {"o": str(self.o), "h": str(self.h), "l": str(self.low), "c": str(self.c),
                "v": str(self.v), "n": str(self.n), "pv": str(self.pv), "ot": self.ot, "ct": self.ct}


@dataclass
class QuoteApplied:
    """What one message changed, for logs and tests."""

    symbol: str
    duplicate: bool = False
    quotes: int = 0
    trades: int = 0
    stale: int = 0
    days: set[dt.date] = field(default_factory=set)


def _normalize(message: dict[str, Any]) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    if not isinstance(message, dict):
        raise MarketDataError(f"message is a {type(message).__name__}, not an envelope object")
    payload = message.get("payload", message)
    if not isinstance(payload, dict):
        raise MarketDataError(f"payload is a {type(payload).__name__}, not an object")
    symbol = str(payload.get("symbol", "")).upper()
    if not symbol:
        raise MarketDataError("message without symbol")
    quotes = [
        {"bid": parse_decimal(q["bid"], "bid"), "ask": parse_decimal(q["ask"], "ask"),
         "bid_size": parse_decimal(q.get("bid_size", 0), "bid_size"),
         "ask_size": parse_decimal(q.get("ask_size", 0), "ask_size"), "ts": parse_ts(q.get("ts"))}
        for q in payload.get("quotes") or []
    ]
    trades = [
        {"price": parse_decimal(t["price"], "price"), "size": parse_decimal(t.get("size", 0), "size"),
         "ts": parse_ts(t.get("ts"))}
        for t in payload.get("trades") or []
    ]
    return symbol, quotes, trades


def quote_apply(*, message: dict[str, Any], client: redis.Redis | None = None) -> QuoteApplied:
    """Apply one `MarketData` envelope (docs/events.md) to the quote hash and the bars.

    Idempotent by `event_id`; entries older than the stored timestamp do not move the quote back
    (they still count in their bars). Raises MarketDataError on a corrupt message.
    """
    symbol, quotes, trades = _normalize(message)
    event_id = str(message.get("event_id") or "")
    client = client or redis_client()
    result = QuoteApplied(symbol=symbol)
    quote_key = QUOTE_KEY.format(symbol=symbol)
    seen_key = f"md:seen:{event_id}" if event_id else ""
    bars: dict[str, _Bar] = {}
    for trade in trades:
        minute = int(trade["ts"].timestamp()) // 60 * 60
        day = trading_date(trade["ts"])
        minute_key = bar_key(timeframe="1Min", symbol=symbol, bucket=str(minute))
        day_key = bar_key(timeframe="1Day", symbol=symbol, bucket=day.isoformat())
        bars.setdefault(minute_key, _Bar(minute_key, bar_index_key(timeframe="1Min", symbol=symbol), minute))
        bars.setdefault(day_key, _Bar(day_key, bar_index_key(timeframe="1Day", symbol=symbol),
                                      int(trading_date_start(day).timestamp())))
    # The previous close comes from PostgreSQL only when the stored quote lacks it for this day;
    # read it before the WATCH so no query runs inside the Redis transaction.
    stored_day = client.hget(quote_key, "day")
    prev_close_from_db: dict[dt.date, Decimal | None] = {}
    for trade in trades:
        day = trading_date(trade["ts"])
        if (stored_day is None or day.isoformat() > stored_day) and day not in prev_close_from_db:
            prev_close_from_db[day] = daily_close_before(symbol=symbol, day=day)

    def apply(pipe: Any) -> None:
        result.duplicate = bool(seen_key and pipe.exists(seen_key))
        if result.duplicate:
            pipe.multi()
            return
        current = pipe.hgetall(quote_key)
        for bar in bars.values():
            bar.load(pipe.hgetall(bar.key))
        updates: dict[str, str] = {}
        newest_ts = current.get("ts") or ""
        for quote in quotes:
            ts = quote["ts"].isoformat()
            if ts < newest_ts:
                result.stale += 1
                continue
            newest_ts = ts
            updates.update({"bid": str(quote["bid"]), "ask": str(quote["ask"]),
                            "bid_size": str(quote["bid_size"]), "ask_size": str(quote["ask_size"]), "ts": ts})
            result.quotes += 1
        day_str = current.get("day")
        last = current.get("last")
        last_ts = current.get("last_ts") or ""
        volume = Decimal(current.get("volume") or "0")
        prev_close = current.get("prev_close")
        day_open = current.get("open")
        for trade in trades:
            ts_dt, price, size = trade["ts"], trade["price"], trade["size"]
            day = trading_date(ts_dt)
            minute = int(ts_dt.timestamp()) // 60 * 60
            ts = ts_dt.isoformat()
            bars[bar_key(timeframe="1Min", symbol=symbol, bucket=str(minute))].add(price, size, ts)
            bars[bar_key(timeframe="1Day", symbol=symbol, bucket=day.isoformat())].add(price, size, ts)
            result.days.add(day)
            if ts < last_ts:
                result.stale += 1
                continue
            if day_str is None or day.isoformat() > day_str:
                # A new trading day: yesterday's last is today's reference for `change`.
                db_close = prev_close_from_db.get(day)
                prev_close = str(db_close) if db_close is not None else (last if day_str else None)
                day_str, volume, day_open = day.isoformat(), Decimal(0), str(price)
            if day.isoformat() == day_str:
                volume += size
            last, last_ts = str(price), ts
            updates.update({"last": last, "last_size": str(size), "last_ts": ts, "day": day_str,
                            "volume": str(volume), "open": day_open or last})
            if prev_close:
                updates["prev_close"] = prev_close
            reference = Decimal(prev_close) if prev_close else Decimal(day_open or last)
            updates["change"] = str(Decimal(last) - reference)
            if ts > newest_ts:
                newest_ts = ts
            result.trades += 1
        if newest_ts and newest_ts != current.get("ts"):
            updates["ts"] = newest_ts
        pipe.multi()
        if updates:
            pipe.hset(quote_key, mapping=updates)
        horizon = int(dt.datetime.now(dt.UTC).timestamp()) - BAR_WINDOW_SECONDS
        for bar in bars.values():
            if not bar.changed:
                continue
            pipe.hset(bar.key, mapping=bar.fields())
            pipe.expire(bar.key, BAR_WINDOW_SECONDS)
            pipe.zadd(bar.index_key, {bar.key.rsplit(":", 1)[1]: bar.score})
            pipe.zremrangebyscore(bar.index_key, "-inf", horizon)
            pipe.expire(bar.index_key, BAR_WINDOW_SECONDS)
        for day in result.days:
            pipe.sadd(DIRTY_DAILY_BARS, f"{symbol}|{day.isoformat()}")
        if seen_key:
            pipe.set(seen_key, "1", ex=SEEN_TTL_SECONDS)

    watched = [quote_key, *bars.keys()] + ([seen_key] if seen_key else [])
    client.transaction(apply, *watched)
    return result


def daily_bars_flush(*, client: redis.Redis | None = None, batch: int = 500) -> int:
    """Upsert the daily bars changed since the last flush into PostgreSQL; return how many.

    Several quote-store processes may flush at once: SPOP hands each dirty bar to one of them, and
    a failed upsert puts its bars back.
    """
    client = client or redis_client()
    flushed = 0
    while True:
        members: list[str] = client.spop(DIRTY_DAILY_BARS, batch) or []  # type: ignore[assignment]
        if not members:
            return flushed
        pipe = client.pipeline(transaction=False)
        parsed = []
        for member in members:
            symbol, day_text = member.split("|", 1)
            parsed.append((symbol, dt.date.fromisoformat(day_text)))
            pipe.hgetall(bar_key(timeframe="1Day", symbol=symbol, bucket=day_text))
        rows = []
        for (symbol, day), raw in zip(parsed, pipe.execute(), strict=True):
            if not raw:
                continue  # expired out of the window: PostgreSQL already holds its last state
            volume = Decimal(raw["v"])
            vwap = (Decimal(raw["pv"]) / volume).quantize(Decimal("0.0001")) if volume else Decimal(raw["c"])
            rows.append(DailyBar(symbol=symbol, date=day, open=Decimal(raw["o"]), high=Decimal(raw["h"]),
                                 low=Decimal(raw["l"]), close=Decimal(raw["c"]), volume=volume,
                                 trade_count=int(raw["n"]), vwap=vwap))
        try:
            with transaction.atomic():
                DailyBar.objects.bulk_create(
                    rows, update_conflicts=True, unique_fields=["symbol", "date"],
                    update_fields=["open", "high", "low", "close", "volume", "trade_count", "vwap", "updated_at"],
                )
        except Exception:
            client.sadd(DIRTY_DAILY_BARS, *members)
            raise
        flushed += len(rows)
