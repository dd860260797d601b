"""Objects of the API layer in Alpaca's JSON shape."""

from __future__ import annotations

import datetime as dt
from typing import Any

from apps.instruments.presenters import instrument_to_alpaca

from .models import ApiKey, Watchlist
from .selectors import Clock


def rfc3339(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def clock_to_alpaca(clock: Clock) -> dict[str, Any]:
    return {
        "timestamp": rfc3339(clock.timestamp),
        "is_open": clock.is_open,
        "next_open": rfc3339(clock.next_open),
        "next_close": rfc3339(clock.next_close),
    }


def watchlist_to_alpaca(watchlist: Watchlist, *, with_assets: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(watchlist.id),
        "account_id": str(watchlist.account_id),
        "name": watchlist.name,
        "created_at": rfc3339(watchlist.created_at),
        "updated_at": rfc3339(watchlist.updated_at),
    }
    if with_assets:
        data["assets"] = [instrument_to_alpaca(item.instrument) for item in watchlist.items.all()]
    return data


def api_key_to_json(api_key: ApiKey) -> dict[str, Any]:
    return {
        "id": str(api_key.id),
        "key_id": api_key.key_id,
        "label": api_key.label,
        "created_at": rfc3339(api_key.created_at),
        "revoked_at": rfc3339(api_key.revoked_at),
        "rate_limit_per_minute": api_key.rate_limit_per_minute,
    }
