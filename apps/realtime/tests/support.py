"""Test helpers: a real ASGI server (uvicorn) on an ephemeral port in a thread, worker threads,
Kafka producers of market.quotes / orders.updates envelopes, and a websockets client."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import uvicorn
from django.conf import settings
from websockets.asyncio.client import ClientConnection, connect

from workers.kafka import encode, producer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def asgi_server() -> Iterator[str]:
    """uvicorn serving brokerage.asgi in a thread; yields "127.0.0.1:<port>"."""
    from brokerage.asgi import application

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port, ws="websockets",
                                           lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def worker(run: Callable[..., None], **kwargs: Any) -> Iterator[None]:
    """Run a worker loop in a thread with a fresh consumer group; wait until partitions are assigned."""
    stop, ready = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            run(stop=stop, ready=ready, group_id=f"test-{uuid.uuid4().hex[:8]}", **kwargs)
        except BaseException as exc:
            errors.append(exc)
            raise

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    if not ready.wait(timeout=60):
        stop.set()
        raise RuntimeError(f"worker {run.__name__} got no partitions within 60 s: {errors}")
    # The assignment callback fires before the first fetch positions itself at the end of the log.
    time.sleep(1.0)
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=15)
        if errors:
            raise errors[0]


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def quote_envelope(symbol: str, bid: Decimal, ask: Decimal, *, ts: str | None = None,
                   trade: Decimal | None = None, size: Decimal = Decimal(100)) -> dict[str, Any]:
    ts = ts or now_iso()
    payload: dict[str, Any] = {
        "symbol": symbol,
        "quotes": [{"bid": str(bid), "ask": str(ask), "bid_size": "300", "ask_size": "500", "ts": ts}],
        "trades": [{"price": str(trade), "size": str(size), "ts": ts}] if trade is not None else [],
    }
    return {"event_id": str(uuid.uuid4()), "type": "MarketData", "occurred_at": ts, "account_id": None,
            "payload": payload}


class QuoteProducer:
    def __init__(self) -> None:
        self.kafka = producer()

    def send(self, envelope: dict[str, Any]) -> None:
        self.kafka.produce(settings.TOPIC_MARKET_QUOTES, key=envelope["payload"]["symbol"].encode(),
                           value=encode(envelope))
        self.kafka.poll(0)

    def send_order_update(self, account_id: str, payload: dict[str, Any]) -> None:
        envelope = {"event_id": str(uuid.uuid4()), "type": "OrderUpdated", "occurred_at": now_iso(),
                    "account_id": account_id, "payload": payload}
        self.kafka.produce(settings.TOPIC_ORDERS_UPDATES, key=account_id.encode(), value=encode(envelope))
        self.kafka.poll(0)

    def flush(self) -> None:
        remaining = self.kafka.flush(15)
        if remaining:
            raise RuntimeError(f"{remaining} messages not delivered")


async def ws_connect(address: str, *, query: str = "", cookie: str | None = None,
                     origin: str | None = None, headers: dict[str, str] | None = None) -> ClientConnection:
    extra = dict(headers or {})
    if cookie:
        extra["Cookie"] = cookie
    return await connect(f"ws://{address}/ws/stream{'?' + query if query else ''}",
                         origin=origin or f"http://{address}",  # type: ignore[arg-type]
                         additional_headers=extra, open_timeout=10)


async def recv_json(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout=timeout))


async def recv_until(ws: ClientConnection, predicate: Callable[[dict[str, Any]], bool],
                     timeout: float = 15.0) -> list[dict[str, Any]]:
    """Frames up to and including the first one matching `predicate` (heartbeats included)."""
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no matching frame within {timeout} s; got {frames[-5:]}")
        frame = await recv_json(ws, timeout=left)
        frames.append(frame)
        if predicate(frame):
            return frames


def session_cookie(user: Any) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
