"""When a day order's session closes: XNYS via exchange-calendars, or the end of the UTC day when
the venue trades around the clock (settings.FIX_VENUE_ALWAYS_OPEN, the dev default)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

import pandas as pd
from django.conf import settings


@functools.cache
def _calendar():  # type: ignore[no-untyped-def]
    import exchange_calendars

    return exchange_calendars.get_calendar(settings.MARKET_CALENDAR)


def session_close_for(submitted_at: datetime) -> datetime:
    """The close of the session a day order submitted at `submitted_at` belongs to."""
    if settings.FIX_VENUE_ALWAYS_OPEN:
        day = submitted_at.astimezone(UTC).date()
        return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    calendar = _calendar()
    # The next close after the submission: the close of its session, or of the next session when
    # the order was submitted outside trading hours.
    return calendar.next_close(pd.Timestamp(submitted_at).tz_convert("UTC")).to_pydatetime()
