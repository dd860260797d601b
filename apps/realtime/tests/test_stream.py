"""/ws/stream end to end: a real uvicorn server, the fanout and order-update workers on the real
broker, the Redis channel layer, PostgreSQL, and `websockets` clients."""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from apps.marketdata.services import quote_apply
from apps.realtime import consumers
from apps.realtime.tests.conftest import Committed
from apps.realtime.tests.support import (
    QuoteProducer,
    now_iso,
    quote_envelope,
    recv_json,
    recv_until,
    session_cookie,
    ws_connect,
)
from tests.factories import AccountFactory, InstrumentFactory, UserFactory


def _symbol(prefix: str = "Q") -> str:
    return prefix + uuid.uuid4().hex[:5].upper()


def _instruments(committed: Committed, count: int) -> list[str]:
    return [str(committed.add(InstrumentFactory(symbol=_symbol())).symbol) for _ in range(count)]


def _customer(committed: Committed) -> tuple[Any, Any, str]:
    user = committed.add(UserFactory(username=f"ws-{uuid.uuid4().hex[:10]}"))
    account = committed.add(AccountFactory(owner=user))
    return user, account, session_cookie(user)


def test_handshake_refused_without_credentials_or_from_foreign_origin(live_address: str,
                                                                      committed: Committed) -> None:
    from apps.api.services import api_key_create, auth_token_issue

    user, _account, cookie = _customer(committed)
    token_row, token = auth_token_issue(user=user)
    committed.add(token_row)
    api_key, secret = api_key_create(user=user)
    committed.add(api_key)

    async def scenario() -> None:
        for kwargs in ({}, {"query": "token=not-a-token"}, {"query": f"key_id={api_key.key_id}&secret=wrong"},
                       {"cookie": cookie, "origin": "https://evil.example"}):
            with pytest.raises(InvalidStatus) as refused:
                await ws_connect(live_address, **kwargs)
            assert refused.value.response.status_code == 403, kwargs
        accepted: tuple[dict[str, Any], ...] = (
            {"cookie": cookie}, {"query": f"token={token}"},
            {"headers": {"APCA-API-KEY-ID": api_key.key_id, "APCA-API-SECRET-KEY": secret}},
            {"headers": {"Authorization": f"Bearer {token}"}})
        for kwargs in accepted:
            ws = await ws_connect(live_address, **kwargs)
            welcome = await recv_json(ws)
            assert welcome["type"] == "welcome" and welcome["user"] == user.username, kwargs
            await ws.close()

    asyncio.run(scenario())


def test_subscribe_snapshot_first_then_ordered_updates_and_unsubscribe_stops(
        live_address: str, committed: Committed, fanout_worker: None, quotes_producer: QuoteProducer) -> None:
    _user, _account, cookie = _customer(committed)
    first, second = _instruments(committed, 2)
    quote_apply(message=quote_envelope(first, Decimal("10.00"), Decimal("10.02"), trade=Decimal("10.01")))
    updates = 40

    async def scenario() -> None:
        ws = await ws_connect(live_address, cookie=cookie)
        await recv_json(ws)  # welcome
        await ws.send(json.dumps({"action": "subscribe", "quotes": [first, second.lower(), "NOSUCH1"]}))
        frames = await recv_until(ws, lambda f: f["type"] == "quotes")
        assert {"type": "error", "code": "unknown_symbol", "message": "unknown symbols",
                "symbols": ["NOSUCH1"]} in frames
        snapshot = frames[-1]
        assert snapshot["snapshot"] is True
        by_symbol = {q["symbol"]: q for q in snapshot["data"]}
        assert by_symbol[first]["bid"] == "10.00" and by_symbol[first]["last"] == "10.01"
        assert by_symbol[second]["bid"] is None  # subscribed, no quote stored yet

        # Paced so that several fanout windows pass; every tick is newer than the snapshot.
        async def produce() -> None:
            for i in range(1, updates + 1):
                quotes_producer.send(quote_envelope(first, Decimal("10.00") + i, Decimal("10.02") + i))
                quotes_producer.send(quote_envelope(second, Decimal("20.00") + i, Decimal("20.02") + i))
                await asyncio.sleep(0.01)
            quotes_producer.flush()

        producer_task = asyncio.create_task(produce())
        seen: dict[str, list[dict[str, Any]]] = {first: [], second: []}
        deadline = time.monotonic() + 30
        while not all(seen[s] and seen[s][-1]["bid"] == str(Decimal(p) + updates)
                      for s, p in ((first, "10.00"), (second, "20.00"))):
            assert time.monotonic() < deadline, f"latest quotes never arrived: {seen}"
            frame = await recv_json(ws)
            assert frame["type"] in {"quotes", "heartbeat"}
            assert not frame.get("snapshot"), "a second snapshot"
            for quote in frame.get("data", []):
                seen[quote["symbol"]].append(quote)
        await producer_task
        for quotes in seen.values():
            stamps = [q["ts"] for q in quotes]
            bids = [Decimal(q["bid"]) for q in quotes]
            assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps), "out of order per symbol"
            assert bids == sorted(bids)
            assert len(quotes) <= updates

        await ws.send(json.dumps({"action": "unsubscribe", "quotes": [first]}))
        reply = await recv_until(ws, lambda f: f["type"] == "subscribed")
        assert reply[-1]["quotes"] == [second]
        for i in range(5):
            quotes_producer.send(quote_envelope(first, Decimal(500) + i, Decimal(501) + i))
        quotes_producer.send(quote_envelope(second, Decimal(900), Decimal(901)))
        quotes_producer.flush()
        frames = await recv_until(ws, lambda f: any(q["bid"] == "900" for q in f.get("data", [])))
        assert not [q for f in frames for q in f.get("data", []) if q["symbol"] == first]
        await ws.close()

    asyncio.run(scenario())


def test_symbol_limit_and_bad_frames_answer_errors_without_disconnecting(
        live_address: str, committed: Committed, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumers, "MAX_SYMBOLS_PER_CONNECTION", 3)
    monkeypatch.setattr(consumers, "HEARTBEAT_SECONDS", 0.5)
    _user, _account, cookie = _customer(committed)
    symbols = _instruments(committed, 4)

    async def scenario() -> None:
        ws = await ws_connect(live_address, cookie=cookie)
        assert (await recv_json(ws))["limits"]["symbols"] == 3
        await ws.send("not json")
        assert (await recv_json(ws))["code"] == "bad_frame"
        await ws.send('{"action": "subscribe", "quotes": "AAPL"}')
        assert (await recv_json(ws))["code"] == "bad_frame"
        await ws.send(json.dumps({"action": "subscribe", "quotes": symbols}))
        frames = await recv_until(ws, lambda f: f["type"] == "quotes")
        limit = next(f for f in frames if f.get("code") == "symbol_limit")
        assert limit["symbols"] == symbols[3:]
        assert next(f for f in frames if f["type"] == "subscribed")["quotes"] == sorted(symbols[:3])
        # Heartbeats keep flowing on an idle connection.
        assert (await recv_json(ws, timeout=3))["type"] == "heartbeat"
        await ws.send('{"action": "ping", "id": 7}')
        assert (await recv_until(ws, lambda f: f["type"] == "pong"))[-1]["id"] == 7
        await ws.close()

    asyncio.run(scenario())


def _order_payload(seq: int, order_id: str, event: str) -> dict[str, Any]:
    return {"seq": seq, "event": event, "timestamp": now_iso(), "order": {"id": order_id, "status": event}}


def test_user_b_never_receives_user_a_order_updates(live_address: str, committed: Committed,
                                                   order_updates_worker: None,
                                                   quotes_producer: QuoteProducer) -> None:
    _user_a, account_a, cookie_a = _customer(committed)
    _user_b, account_b, cookie_b = _customer(committed)

    async def scenario() -> None:
        ws_a = await ws_connect(live_address, cookie=cookie_a)
        ws_b = await ws_connect(live_address, cookie=cookie_b)
        assert (await recv_json(ws_a))["accounts"] == [str(account_a.id)]
        assert (await recv_json(ws_b))["accounts"] == [str(account_b.id)]
        for seq in range(1, 51):
            quotes_producer.send_order_update(str(account_a.id), _order_payload(seq, f"a-{seq}", "new"))
        quotes_producer.send_order_update(str(account_b.id), _order_payload(1, "b-1", "fill"))
        quotes_producer.flush()
        frames_a = await recv_until(ws_a, lambda f: f.get("seq") == 50, timeout=30)
        frames_b = await recv_until(ws_b, lambda f: f.get("seq") == 1, timeout=30)
        got_a = [f for f in frames_a if f["type"] == "trade_update"]
        assert [f["seq"] for f in got_a] == list(range(1, 51))
        assert {f["account_id"] for f in got_a} == {str(account_a.id)}
        # B's one event arrived after all of A's were published; B saw nothing of A's.
        trade_b = [f for f in frames_b if f["type"] == "trade_update"]
        assert [(f["account_id"], f["data"]["order"]["id"]) for f in trade_b] == [(str(account_b.id), "b-1")]
        await ws_a.close()
        await ws_b.close()

    asyncio.run(scenario())


def test_resume_after_disconnect_during_1000_order_updates_matches_the_database(
        live_address: str, committed: Committed, order_updates_worker: None,
        quotes_producer: QuoteProducer) -> None:
    """Orders go through the trading core's services (which allocate `seq` and store OrderEvent);
    this test then publishes each committed event to `orders.updates` the way the outbox relay
    does, while the client disconnects midway and resumes with its last sequence number."""
    from django.db import connection

    from apps.ledger.services import deposit
    from apps.orders.models import Order, OrderEvent
    from apps.orders.presenters import order_to_alpaca
    from apps.orders.services import execution_apply, order_cancel_request, order_place
    from apps.orders.types import ExecutionReport

    _user, account, cookie = _customer(committed)
    symbol = _instruments(committed, 1)[0]
    quote_apply(message=quote_envelope(symbol, Decimal("9.99"), Decimal("10.01"), trade=Decimal("10.00")))
    deposit(account=account, amount=Decimal("10000000"), reference="resume test funding")
    total_orders = 250  # 4 events each: 1,000 order updates
    published = threading.Event()
    errors: list[BaseException] = []

    def trade() -> None:
        try:
            produced = 0
            for i in range(total_orders):
                order = order_place(account=account, symbol=symbol, side="buy", type="limit", time_in_force="day",
                                    qty=Decimal("10"), limit_price=Decimal("10.00"))
                execution_apply(report=ExecutionReport(order_id=order.id, exec_id=f"ack-{order.id}", exec_type="new"))
                if i % 5 == 4:
                    order_cancel_request(account=account, order_id=order.id)
                    execution_apply(report=ExecutionReport(order_id=order.id, exec_id=f"cxl-{order.id}",
                                                           exec_type="canceled"))
                else:
                    execution_apply(report=ExecutionReport(
                        order_id=order.id, exec_id=f"p-{order.id}", exec_type="partial_fill", last_qty=Decimal(4),
                        last_price=Decimal("9.90"), cum_qty=Decimal(4), leaves_qty=Decimal(6)))
                    execution_apply(report=ExecutionReport(
                        order_id=order.id, exec_id=f"f-{order.id}", exec_type="fill", last_qty=Decimal(6),
                        last_price=Decimal("10.00"), cum_qty=Decimal(10), leaves_qty=Decimal(0)))
                # The relay's job: publish what is committed, in seq order.
                for seq, payload in OrderEvent.objects.filter(account=account, seq__gt=produced).order_by(
                        "seq").values_list("seq", "payload"):
                    quotes_producer.send_order_update(str(account.id), payload)
                    produced = seq
                if i % 25 == 0:
                    quotes_producer.flush()
            quotes_producer.flush()
        except BaseException as exc:
            errors.append(exc)
        finally:
            published.set()
            connection.close()

    async def scenario() -> tuple[list[int], list[int], dict[str, dict[str, Any]]]:
        ws = await ws_connect(live_address, cookie=cookie)
        await recv_json(ws)
        thread = threading.Thread(target=trade, daemon=True)
        thread.start()
        first_session: list[int] = []
        latest: dict[str, dict[str, Any]] = {}
        while len(first_session) < 300:
            frame = await recv_json(ws, timeout=60)
            if frame["type"] == "trade_update":
                first_session.append(frame["seq"])
                latest[frame["data"]["order"]["id"]] = frame["data"]["order"]
        await ws.close()  # gone while updates keep coming
        await asyncio.to_thread(published.wait, 300)
        assert not errors, errors
        last_seq = first_session[-1]
        final_seq = await asyncio.to_thread(
            lambda: OrderEvent.objects.filter(account=account).order_by("-seq").values_list("seq", flat=True)[0])
        ws = await ws_connect(live_address, cookie=cookie, query=f"since={last_seq}")
        second_session: list[int] = []
        while not second_session or second_session[-1] < final_seq:
            frame = await recv_json(ws, timeout=60)
            if frame["type"] == "trade_update":
                second_session.append(frame["seq"])
                latest[frame["data"]["order"]["id"]] = frame["data"]["order"]
        # Nothing more arrives: no duplicate tail from the live path after the replay.
        with pytest.raises(TimeoutError):
            while True:
                frame = await recv_json(ws, timeout=1.5)
                if frame["type"] == "trade_update":
                    second_session.append(frame["seq"])
                    break
        await ws.close()
        return first_session, second_session, latest

    first_session, second_session, latest = asyncio.run(scenario())
    assert first_session == list(range(1, len(first_session) + 1))
    assert second_session == list(range(first_session[-1] + 1, 1001))
    orders = {str(o.id): o for o in Order.objects.filter(account=account)}
    assert len(orders) == total_orders
    # The end state the client holds equals what the REST API presents for every order.
    for order_id, order in orders.items():
        rest = order_to_alpaca(order)
        seen = latest[order_id]
        assert (seen["status"], seen["filled_qty"], seen["filled_avg_price"]) == (
            rest["status"], rest["filled_qty"], rest["filled_avg_price"]), order_id
    assert {o["status"] for o in latest.values()} == {"filled", "canceled"}


def test_slow_client_does_not_delay_fast_client(live_address: str, committed: Committed, fanout_worker: None,
                                                quotes_producer: QuoteProducer) -> None:
    _user, _account, cookie = _customer(committed)
    symbols = _instruments(committed, 20)
    subscribe = json.dumps({"action": "subscribe", "quotes": symbols})
    ticks = 4000

    async def scenario() -> tuple[list[float], int]:
        slow = await ws_connect(live_address, cookie=cookie)
        await slow.send(subscribe)
        fast = await ws_connect(live_address, cookie=cookie)
        await fast.send(subscribe)
        await recv_until(fast, lambda f: f["type"] == "quotes")
        # The slow client stops reading now; its TCP window and the server's buffer fill up.
        latencies: list[float] = []

        def produce() -> None:  # in a thread: the client's event loop only reads
            for i in range(ticks):
                envelope = quote_envelope(symbols[i % 20], Decimal(1) + i, Decimal(2) + i)
                quotes_producer.send(envelope)
                if i % 100 == 99:
                    time.sleep(0.02)
            quotes_producer.flush()

        task = asyncio.create_task(asyncio.to_thread(produce))
        last_bid = str(Decimal(1) + ticks - 1)
        from datetime import UTC, datetime

        done = False
        while not done:
            frame = await recv_json(fast, timeout=30)
            received = datetime.now(UTC)
            for quote in frame.get("data", []):
                latencies.append((received - datetime.fromisoformat(quote["ts"])).total_seconds() * 1000)
                done = done or quote["bid"] == last_bid
        await task
        # The slow client, reading at last, gets each symbol's latest price, not the backlog.
        received_by_slow = 0
        latest: dict[str, str] = {}
        try:
            while True:
                frame = await recv_json(slow, timeout=2)
                for quote in frame.get("data", []):
                    received_by_slow += 1
                    latest[quote["symbol"]] = quote["bid"]
        except (TimeoutError, ConnectionClosed):
            pass
        assert latest.get(symbols[(ticks - 1) % 20]) == last_bid
        await fast.close()
        await slow.close()
        return latencies, received_by_slow

    latencies, received_by_slow = asyncio.run(scenario())
    p99 = statistics.quantiles(latencies, n=100)[98]
    print(f"fast client: {len(latencies)} quotes, p50 {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms; "
          f"slow client got {received_by_slow} quotes for {ticks} ticks")
    assert p99 < 1000, f"fast client p99 {p99:.0f} ms while a slow client was connected"
    assert received_by_slow < ticks
