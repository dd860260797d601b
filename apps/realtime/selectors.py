"""Reads behind the stream consumer: who the user is, their accounts, known symbols, quote
snapshots (Redis) and order events to replay (PostgreSQL, `orders.OrderEvent`)."""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any

import redis.asyncio as aioredis

from apps.marketdata.selectors import QUOTE_KEY
from apps.ops.clients import redis_async_client

QUOTE_FIELDS = ("bid", "ask", "bid_size", "ask_size", "last", "change", "volume", "ts")
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = weakref.WeakKeyDictionary()


def user_for_credentials(*, token: str | None, key_id: str | None, secret: str | None) -> Any:
    """The user behind an API token or key pair, through apps.api.authentication (None if unknown
    or if that module is not installed)."""
    try:
        from apps.api import authentication
    except ImportError:
        return None
    user = None
    if token and hasattr(authentication, "user_for_token"):
        user = authentication.user_for_token(token=token)
    if user is None and key_id and secret and hasattr(authentication, "user_for_api_key"):
        user = authentication.user_for_api_key(key_id=key_id, secret=secret)
    return user if user is not None and user.is_active else None


def account_ids_for_user(*, user: Any) -> list[str]:
    from apps.accounts.models import Account

    return [str(pk) for pk in Account.objects.filter(owner=user).order_by("pk").values_list("pk", flat=True)]


def known_symbols(*, symbols: list[str]) -> set[str]:
    from apps.instruments.models import Instrument, InstrumentStatus

    return set(Instrument.objects.filter(symbol__in=symbols, status=InstrumentStatus.ACTIVE)
               .values_list("symbol", flat=True))


class _KnownSymbols:
    """Per-process cache of the tradable (ACTIVE) symbol set, so a subscribe does not read the
    database: the full set is reloaded every SYMBOL_CACHE_SECONDS; a symbol missing from the cache
    is looked up (only the misses) so a newly listed instrument is usable at once. A delisted one
    stays subscribable until the next reload."""

    def __init__(self) -> None:
        self.symbols: frozenset[str] = frozenset()
        self.loaded_at = float("-inf")
        self.locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()

    async def filter(self, symbols: list[str]) -> set[str]:
        from channels.db import database_sync_to_async

        if time.monotonic() - self.loaded_at > SYMBOL_CACHE_SECONDS:
            loop = asyncio.get_running_loop()
            lock = self.locks.get(loop)
            if lock is None:
                lock = self.locks[loop] = asyncio.Lock()
            async with lock:  # one reload per process, however many connections subscribe at once
                if time.monotonic() - self.loaded_at > SYMBOL_CACHE_SECONDS:
                    self.symbols = frozenset(await database_sync_to_async(active_symbols)())
                    self.loaded_at = time.monotonic()
        known = {s for s in symbols if s in self.symbols}
        misses = [s for s in symbols if s not in known]
        if misses:
            found = await database_sync_to_async(known_symbols)(symbols=misses)
            if found:
                self.symbols = self.symbols | found
            known |= found
        return known


SYMBOL_CACHE_SECONDS = 60.0
_known = _KnownSymbols()


def active_symbols() -> list[str]:
    from apps.instruments.models import Instrument, InstrumentStatus

    return list(Instrument.objects.filter(status=InstrumentStatus.ACTIVE).values_list("symbol", flat=True))


async def known_symbols_cached(*, symbols: list[str]) -> set[str]:
    """The tradable ones among `symbols`, from the per-process cache (database only on a miss)."""
    return await _known.filter(symbols)


def _client() -> aioredis.Redis:
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = _clients[loop] = redis_async_client()
    return client


async def quote_snapshots(*, symbols: list[str]) -> list[dict[str, Any]]:
    """The stored quote of each symbol, fields as strings (null when the quote store has none)."""
    pipe = _client().pipeline(transaction=False)
    for symbol in symbols:
        pipe.hmget(QUOTE_KEY.format(symbol=symbol), QUOTE_FIELDS)
    rows = await pipe.execute()
    return [{"symbol": symbol, **dict(zip(QUOTE_FIELDS, row, strict=True))}
            for symbol, row in zip(symbols, rows, strict=True)]


def order_events_after(*, account_id: str, after: int, upto: int | None, limit: int) -> list[tuple[int, Any]]:
    """(seq, payload) of the account's order events with after < seq <= upto, oldest first."""
    from apps.orders.models import OrderEvent  # type: ignore[attr-defined]

    events = OrderEvent.objects.filter(account_id=account_id, seq__gt=after)
    if upto is not None:
        events = events.filter(seq__lte=upto)
    return [(seq, {**payload, "seq": seq}) for seq, payload in
            events.order_by("seq").values_list("seq", "payload")[:limit]]
