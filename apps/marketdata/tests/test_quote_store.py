"""Quote store against real Redis, PostgreSQL and the Kafka-protocol broker; REST read back by
alpaca-py's StockHistoricalDataClient against a live uvicorn server."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from decimal import Decimal

import pytest
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest, StockLatestQuoteRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

from apps.marketdata.models import DailyBar
from apps.marketdata.selectors import quote_latest
from apps.marketdata.services import MarketDataError, daily_bars_flush, quote_apply, trading_date
from apps.realtime.tests.conftest import Committed
from apps.realtime.tests.support import QuoteProducer, quote_envelope, worker
from tests.factories import UserFactory
from workers.quote_store import quote_store_run

T0 = dt.datetime(2026, 3, 2, 15, 30, 10, tzinfo=dt.UTC)  # a Monday, 10:30 New York


def _at(seconds: float) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).isoformat()


@pytest.mark.django_db
def test_quote_apply_rolls_quote_and_bars_and_is_idempotent() -> None:
    trades = [(0, "100.00", 10), (20, "101.50", 5), (40, "99.25", 20), (70, "100.75", 1)]
    envelopes = [quote_envelope("AAPL", Decimal(p) - Decimal("0.01"), Decimal(p) + Decimal("0.01"),
                                ts=_at(s), trade=Decimal(p), size=Decimal(n)) for s, p, n in trades]
    for envelope in envelopes:
        assert not quote_apply(message=envelope).duplicate
    # At-least-once delivery: a replayed envelope changes nothing.
    assert quote_apply(message=envelopes[1]).duplicate

    quote = quote_latest(symbol="AAPL")
    assert quote is not None
    assert (quote.bid, quote.ask, quote.last) == (Decimal("100.74"), Decimal("100.76"), Decimal("100.75"))
    assert quote.volume == Decimal(36)
    assert quote.change == Decimal("0.75")  # no previous close yet: against the day's open
    assert quote.ts == T0 + dt.timedelta(seconds=70)

    # A late (older) quote does not move the quote back, but its trade counts in its bar.
    quote_apply(message=quote_envelope("AAPL", Decimal(1), Decimal(2), ts=_at(30), trade=Decimal("98"),
                                       size=Decimal(4)))
    stale = quote_latest(symbol="AAPL")
    assert stale is not None and stale.bid == Decimal("100.74") and stale.last == Decimal("100.75")

    assert daily_bars_flush() == 1
    bar = DailyBar.objects.get(symbol="AAPL", date=trading_date(T0))
    assert (bar.open, bar.high, bar.low, bar.close) == (Decimal("100"), Decimal("101.5"), Decimal("98"),
                                                        Decimal("100.75"))
    assert bar.volume == Decimal(40) and bar.trade_count == 5
    expected_vwap = (Decimal("1000") + Decimal("507.5") + Decimal("1985") + Decimal("100.75") + Decimal("392")) / 40
    assert bar.vwap == expected_vwap.quantize(Decimal("0.0001"))
    assert daily_bars_flush() == 0  # nothing dirty any more


@pytest.mark.django_db
def test_next_day_change_is_against_previous_close() -> None:
    quote_apply(message=quote_envelope("MSFT", Decimal(400), Decimal(401), ts=_at(0), trade=Decimal("400.50")))
    next_day = (T0 + dt.timedelta(days=1)).isoformat()
    quote_apply(message=quote_envelope("MSFT", Decimal(404), Decimal(405), ts=next_day, trade=Decimal("404.50")))
    quote = quote_latest(symbol="MSFT")
    assert quote is not None
    assert quote.change == Decimal("4.00") and quote.volume == Decimal(100)


def test_corrupt_message_is_refused_without_writing() -> None:
    bad = quote_envelope("BAD", Decimal(1), Decimal(2), ts=_at(0))
    bad["payload"]["quotes"][0]["bid"] = "NaN"
    with pytest.raises(MarketDataError):
        quote_apply(message=bad)
    naive = quote_envelope("BAD", Decimal(1), Decimal(2), ts="2026-03-02T10:00:00")
    with pytest.raises(MarketDataError):
        quote_apply(message=naive)
    # Valid JSON that is not an envelope (a number, a list, a payload that is not an object).
    not_envelopes: tuple[object, ...] = (1.5, [], {"payload": 3})
    for not_an_envelope in not_envelopes:
        with pytest.raises(MarketDataError):
            quote_apply(message=not_an_envelope)  # type: ignore[arg-type]
    assert quote_latest(symbol="BAD") is None


def test_worker_consumes_topic_and_alpaca_client_reads_quotes_and_bars(live_address: str, committed: Committed,
                                                                       quotes_producer: QuoteProducer) -> None:
    from apps.api.services import api_key_create

    # A symbol of its own, so that nothing else in the topic touches its quote and bars.
    symbol = "I" + uuid.uuid4().hex[:6].upper()

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    minute = now - dt.timedelta(minutes=3)
    # From the end of the topic: earlier runs and tests left other symbols' messages in it.
    with worker(quote_store_run, name="quote-store-test", offset_reset="latest"):
        for i, price in enumerate(["50.00", "50.40", "49.80"]):
            ts = (minute.replace(second=0) + dt.timedelta(seconds=10 * i)).isoformat()
            quotes_producer.send(quote_envelope(symbol, Decimal(price) - Decimal("0.05"),
                                                Decimal(price) + Decimal("0.05"), ts=ts, trade=Decimal(price)))
        quotes_producer.send(quote_envelope(symbol, Decimal("50.10"), Decimal("50.20"), ts=now.isoformat(),
                                            trade=Decimal("50.15"), size=Decimal(7)))
        quotes_producer.flush()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            quote = quote_latest(symbol=symbol)
            if quote is not None and quote.last == Decimal("50.15"):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the quote store did not apply the messages within 30 s")
        deadline = time.monotonic() + 10
        while not DailyBar.objects.filter(symbol=symbol).exists() and time.monotonic() < deadline:
            time.sleep(0.2)

    daily = DailyBar.objects.get(symbol=symbol)
    assert daily.volume == Decimal(307) and daily.high == Decimal("50.40") and daily.low == Decimal("49.80")

    user = committed.add(UserFactory())
    api_key, secret = api_key_create(user=user)
    committed.add(api_key)
    client = StockHistoricalDataClient(api_key=api_key.key_id, secret_key=secret, url_override=f"http://{live_address}")
    quotes = client.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=[symbol, "NOPE"]))
    assert set(quotes) == {symbol}
    assert (quotes[symbol].bid_price, quotes[symbol].ask_price) == (50.10, 50.20)
    assert quotes[symbol].timestamp == now

    bars = client.get_stock_bars(StockBarsRequest(symbol_or_symbols=symbol, timeframe=TimeFrame.Minute,
                                                  start=now - dt.timedelta(hours=1)))
    minute_bars = bars.data[symbol]
    assert minute_bars[0].close == 49.80
    assert (minute_bars[0].open, minute_bars[0].high, minute_bars[0].low, minute_bars[0].volume) == (
        50.00, 50.40, 49.80, 300)
    assert minute_bars[-1].close == 50.15
    hourly = client.get_stock_bars(StockBarsRequest(
        symbol_or_symbols=symbol, timeframe=TimeFrame(1, TimeFrameUnit.Hour), start=now - dt.timedelta(hours=3)))
    assert sum(bar.volume for bar in hourly.data[symbol]) == 307  # type: ignore[misc]

    days = client.get_stock_bars(StockBarsRequest(symbol_or_symbols=symbol, timeframe=TimeFrame.Day,
                                                  start=now - dt.timedelta(days=5)))
    (day_bar,) = days.data[symbol]
    assert (day_bar.open, day_bar.close, day_bar.volume, day_bar.trade_count) == (50.00, 50.15, 307, 4)


def test_rest_requires_auth_and_validates(live_address: str, committed: Committed) -> None:
    import json
    import urllib.error
    import urllib.request

    def get(path: str) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(f"http://{live_address}{path}", timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    status, body = get("/v2/stocks/quotes/latest?symbols=AAPL")
    assert status in {401, 403} and "message" in body
    from apps.api.services import api_key_create

    api_key, secret = api_key_create(user=committed.add(UserFactory()))
    committed.add(api_key)
    opener = urllib.request.build_opener()
    opener.addheaders = [("APCA-API-KEY-ID", api_key.key_id), ("APCA-API-SECRET-KEY", secret)]
    urllib.request.install_opener(opener)
    try:
        status, body = get("/v2/stocks/bars?symbols=AAPL&timeframe=7Week")
        assert status == 422 and "timeframe" in body["message"]
        status, body = get("/v2/stocks/quotes/latest")
        assert status == 400 and "symbols" in body["message"]
    finally:
        urllib.request.install_opener(urllib.request.build_opener())

