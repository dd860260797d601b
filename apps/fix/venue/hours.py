"""When the simulated venue trades, and when its day orders expire.

Production settings follow the XNYS calendar (exchange-calendars): orders are accepted during the
regular session and day orders expire at the close. In dev and tests (FIX_VENUE_ALWAYS_OPEN) the
venue trades around the clock and day orders expire at the end of the UTC day.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any


@functools.cache
def _xnys() -> Any:
    import exchange_calendars as xcals

    return xcals.get_calendar("XNYS")


class TradingHours:
    def __init__(self, *, always_open: bool) -> None:
        self.always_open = always_open

    def is_open(self, now: dt.datetime) -> bool:
        if self.always_open:
            return True
        import pandas as pd

        return bool(_xnys().is_open_on_minute(pd.Timestamp(now), ignore_breaks=True))

    def trading_day(self, now: dt.datetime) -> str:
        """An identifier of the trading day `now` belongs to; a change means day orders expire.

        Always open: the UTC date. XNYS: the date of the session that last opened, suffixed with
        "closed" once it has closed, so the close itself is a change.
        """
        if self.always_open:
            return now.astimezone(dt.UTC).date().isoformat()
        import pandas as pd

        calendar = _xnys()
        moment = pd.Timestamp(now)
        last_open = calendar.previous_open(moment)
        session = calendar.minute_to_session(last_open)
        closed = moment >= calendar.session_close(session)
        return f"{session.date().isoformat()}{'-closed' if closed else ''}"
