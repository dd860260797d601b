"""Reads of the API layer: the market clock and calendar (exchange-calendars XNYS), assets, watchlists."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import pandas as pd
from django.conf import settings
from django.db.models import Prefetch, QuerySet

from apps.accounts.models import Account
from apps.instruments.models import Instrument

from .models import Watchlist, WatchlistItem

NEW_YORK = ZoneInfo("America/New_York")
CALENDAR_FIRST_DAY = "2000-01-01"
# Alpaca's extended-hours session bounds, New York time; exchange-calendars models the regular session.
SESSION_OPEN = "0400"
SESSION_CLOSE = "2000"
SETTLEMENT_SESSIONS = 1  # T+1 since 2024-05-28


@functools.cache
def market_calendar() -> Any:
    """XNYS sessions from 2000 to one year ahead (built once per process, ~0.2 s)."""
    return xcals.get_calendar(settings.MARKET_CALENDAR, start=CALENDAR_FIRST_DAY)


@dataclass(frozen=True)
class Clock:
    timestamp: dt.datetime
    is_open: bool
    next_open: dt.datetime
    next_close: dt.datetime


def market_clock(*, now: dt.datetime | None = None) -> Clock:
    """The XNYS clock in New York time, like Alpaca's.

    With settings.FIX_VENUE_ALWAYS_OPEN (dev and test: the local venue trades around the clock)
    `is_open` is true at any hour, since orders do execute; next_open / next_close still come from
    the XNYS calendar so clients can show the real session times.
    """
    now = now or dt.datetime.now(dt.UTC)
    calendar = market_calendar()
    moment = pd.Timestamp(now)
    regular_open = bool(calendar.is_open_on_minute(moment, ignore_breaks=True))
    next_open = calendar.next_open(moment).to_pydatetime()
    next_close = calendar.next_close(moment).to_pydatetime()
    return Clock(
        timestamp=now.astimezone(NEW_YORK),
        is_open=regular_open or settings.FIX_VENUE_ALWAYS_OPEN,
        next_open=next_open.astimezone(NEW_YORK),
        next_close=next_close.astimezone(NEW_YORK),
    )


def calendar_days(*, start: dt.date | None, end: dt.date | None) -> list[dict[str, str]]:
    """Trading days between `start` and `end` inclusive, in Alpaca's calendar shape."""
    calendar = market_calendar()
    first = calendar.first_session.date()
    last = calendar.last_session.date()
    start = max(start or first, first)
    end = min(end or last, last)
    if start > end:
        return []
    schedule = calendar.schedule.loc[pd.Timestamp(start) : pd.Timestamp(end)]
    sessions = list(calendar.sessions)
    index = {session.date(): i for i, session in enumerate(sessions)}
    days = []
    for session, row in schedule.iterrows():
        day = session.date()
        position = index[day] + SETTLEMENT_SESSIONS
        settlement = sessions[position].date() if position < len(sessions) else day + dt.timedelta(days=1)
        days.append(
            {
                "date": day.isoformat(),
                "open": row["open"].tz_convert(NEW_YORK).strftime("%H:%M"),
                "close": row["close"].tz_convert(NEW_YORK).strftime("%H:%M"),
                "session_open": SESSION_OPEN,
                "session_close": SESSION_CLOSE,
                "settlement_date": settlement.isoformat(),
            }
        )
    return days


def instruments_filtered(*, status: str | None, asset_class: str | None, exchange: str | None) -> QuerySet[Instrument]:
    queryset = Instrument.objects.all().order_by("symbol")
    if status:
        queryset = queryset.filter(status=status)
    if asset_class:
        queryset = queryset.filter(asset_class=asset_class)
    if exchange:
        queryset = queryset.filter(exchange=exchange)
    return queryset


def instrument_by_symbol_or_id(*, symbol_or_id: str) -> Instrument | None:
    try:
        return Instrument.objects.filter(id=uuid.UUID(symbol_or_id)).first()
    except ValueError:
        return Instrument.objects.filter(symbol=symbol_or_id.upper()).first()


def watchlists_for_account(*, account: Account) -> QuerySet[Watchlist]:
    return Watchlist.objects.filter(account=account).order_by("created_at")


def watchlist_get(*, account: Account, watchlist_id: uuid.UUID) -> Watchlist | None:
    """The account's watchlist with its assets, or None (also for another account's watchlist)."""
    items = WatchlistItem.objects.select_related("instrument").order_by("position")
    return (
        Watchlist.objects.filter(account=account, id=watchlist_id)
        .prefetch_related(Prefetch("items", queryset=items))
        .first()
    )


def watchlist_by_name(*, account: Account, name: str) -> Watchlist | None:
    watchlist = Watchlist.objects.filter(account=account, name=name).first()
    return watchlist_get(account=account, watchlist_id=watchlist.id) if watchlist else None
