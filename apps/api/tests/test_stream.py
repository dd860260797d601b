"""/stream speaks Alpaca's trade_updates protocol over the real Redis channel layer."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from brokerage.asgi import application

from .conftest import committed_customer

pytestmark = pytest.mark.django_db



async def _connect(headers: list[tuple[bytes, bytes]] | None = None) -> WebsocketCommunicator:
    # No Origin header: what alpaca-py's TradingStream sends.
    communicator = WebsocketCommunicator(application, "/stream", headers=[(b"host", b"127.0.0.1"), *(headers or [])])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


def test_authenticate_listen_and_receive_only_own_updates() -> None:
    alice, bob = committed_customer("alice"), committed_customer("bob")

    async def scenario() -> None:
        ws = await _connect()
        await ws.send_json_to({"action": "authenticate",
                               "data": {"key_id": alice.api_key.key_id, "secret_key": alice.secret}})
        assert await ws.receive_json_from() == {
            "stream": "authorization", "data": {"action": "authenticate", "status": "authorized"}}
        await ws.send_json_to({"action": "listen", "data": {"streams": ["trade_updates"]}})
        assert await ws.receive_json_from() == {"stream": "listening", "data": {"streams": ["trade_updates"]}}

        layer = get_channel_layer()
        assert layer is not None
        order = {"id": "o1", "status": "filled"}
        await layer.group_send(f"orders.{bob.account.id}", {
            "type": "order.update", "account_id": str(bob.account.id),
            "payload": {"seq": 1, "event": "fill", "order": {"id": "bobs"}}})
        await layer.group_send(f"orders.{alice.account.id}", {
            "type": "order.update", "account_id": str(alice.account.id),
            "payload": {"seq": 7, "event": "fill", "price": "10", "qty": "1", "order": order}})
        frame = await ws.receive_json_from(timeout=5)
        assert frame == {"stream": "trade_updates",
                         "data": {"event": "fill", "price": "10", "qty": "1", "order": order}}
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()

    asyncio.run(scenario())


def test_wrong_secret_is_unauthorized_and_closed() -> None:
    alice = committed_customer("alice")

    async def scenario() -> None:
        ws = await _connect()
        await ws.send_json_to({"action": "auth", "key": alice.api_key.key_id, "secret": "wrong"})
        reply = await ws.receive_json_from()
        assert reply["data"]["status"] == "unauthorized"
        assert (await ws.receive_output())["type"] == "websocket.close"

    asyncio.run(scenario())


def test_foreign_origin_refused_same_origin_allowed() -> None:
    async def scenario() -> None:
        foreign = WebsocketCommunicator(application, "/stream",
                                        headers=[(b"host", b"127.0.0.1"), (b"origin", b"http://evil.example")])
        assert (await foreign.connect())[0] is False
        own = await _connect([(b"origin", b"http://127.0.0.1")])
        await own.disconnect()

    asyncio.run(scenario())
