"""`/stream`: Alpaca's trading stream protocol, so alpaca-py's `TradingStream(url_override=...)` works.

Protocol (JSON text frames; alpaca-py's TradingStream sends and parses JSON, no msgpack — checked in
alpaca/trading/stream.py of the pinned 0.43.2):

    -> {"action": "authenticate", "data": {"key_id": "...", "secret_key": "..."}}
       (also {"action": "auth", "key": "...", "secret": "..."} and {"data": {"oauth_token": "..."}})
    <- {"stream": "authorization", "data": {"action": "authenticate", "status": "authorized"}}
    -> {"action": "listen", "data": {"streams": ["trade_updates"]}}
    <- {"stream": "listening", "data": {"streams": ["trade_updates"]}}
    <- {"stream": "trade_updates", "data": {"event": "fill", "order": {...}, ...}}

Order events come from Kafka `orders.updates`; the real-time fanout worker (workers/fanout.py)
forwards each to the channel-layer group `orders.<account_id>` as `{"type": "order.update",
"payload": ...}`. This consumer joins the groups of the caller's accounts once it listens to
trade_updates. The payload is already Alpaca's trade-update shape (docs/events.md); `seq` is our
extension, kept out of the SDK's way. Unlike /ws/stream this endpoint has no replay: Alpaca's
protocol has none, so a client that reconnects reads missed orders over REST.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from apps.accounts.models import Account, User

from .authentication import user_for_api_key, user_for_token

logger = logging.getLogger(__name__)

AUTH_TIMEOUT_SECONDS = 10.0
TRADE_UPDATES = "trade_updates"


def account_group(account_id: str) -> str:
    # The same group name the fanout worker sends to (apps.realtime.consumers.account_group).
    return f"orders.{account_id}"


def _as_uuid(exec_id: str) -> str:
    """Alpaca's execution_id is a UUID (alpaca-py validates it); the venue's ExecID (tag 17) need not
    be one. A non-UUID ExecID is mapped to a stable name-based UUID, the same on every delivery."""
    try:
        return str(uuid.UUID(exec_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"exec:{exec_id}"))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _credentials(frame: dict[str, Any]) -> tuple[str, str, str]:
    data = _dict(frame.get("data"))
    key_id = data.get("key_id") or frame.get("key") or ""
    secret = data.get("secret_key") or frame.get("secret") or ""
    token = data.get("oauth_token") or ""
    return str(key_id), str(secret), str(token)


def _authenticate(key_id: str, secret: str, token: str) -> tuple[User | None, list[str]]:
    user = user_for_token(token=token) if token else user_for_api_key(key_id=key_id, secret=secret)
    if user is None:
        return None, []
    return user, [str(pk) for pk in Account.objects.filter(owner=user).values_list("id", flat=True)]


class TradeUpdatesConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.user: User | None = None
        self.accounts: list[str] = []
        self.listening = False
        await self.accept()
        self.auth_timer = asyncio.get_running_loop().call_later(AUTH_TIMEOUT_SECONDS, self._auth_timeout)

    def _auth_timeout(self) -> None:
        if self.user is None:
            asyncio.ensure_future(self.close(code=4001))  # noqa: RUF006

    async def disconnect(self, code: int) -> None:
        timer = getattr(self, "auth_timer", None)
        if timer is not None:
            timer.cancel()
        if getattr(self, "listening", False):
            for account in self.accounts:
                await self.channel_layer.group_discard(account_group(account), self.channel_name)

    async def _send(self, stream: str, data: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"stream": stream, "data": data}, separators=(",", ":")))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = json.loads(text_data if text_data is not None else (bytes_data or b"").decode())
        except (ValueError, UnicodeDecodeError):
            await self._send("error", {"error": "invalid syntax"})
            return
        if not isinstance(frame, dict):
            await self._send("error", {"error": "invalid syntax"})
            return
        action = frame.get("action")
        if action in ("authenticate", "auth"):
            await self._on_authenticate(frame)
        elif action == "listen":
            await self._on_listen(frame)
        else:
            await self._send("error", {"error": f"unrecognized action: {action}"})

    async def _on_authenticate(self, frame: dict[str, Any]) -> None:
        user, accounts = await database_sync_to_async(_authenticate)(*_credentials(frame))
        if user is None:
            await self._send("authorization", {"action": "authenticate", "status": "unauthorized"})
            await self.close(code=4003)
            return
        self.user, self.accounts = user, accounts
        self.auth_timer.cancel()
        await self._send("authorization", {"action": "authenticate", "status": "authorized"})

    async def _on_listen(self, frame: dict[str, Any]) -> None:
        if self.user is None:
            await self._send("authorization", {"action": "listen", "status": "unauthorized"})
            return
        streams = _dict(frame.get("data")).get("streams")
        if not isinstance(streams, list):
            streams = []
        wanted = TRADE_UPDATES in streams
        if wanted and not self.listening:
            for account in self.accounts:
                await self.channel_layer.group_add(account_group(account), self.channel_name)
        elif not wanted and self.listening:
            for account in self.accounts:
                await self.channel_layer.group_discard(account_group(account), self.channel_name)
        self.listening = wanted
        await self._send("listening", {"streams": [TRADE_UPDATES] if wanted else []})

    async def order_update(self, event: dict[str, Any]) -> None:
        """Channel-layer event from the fanout worker: one order event of one of our accounts."""
        if not self.listening or str(event.get("account_id")) not in self.accounts:
            return
        payload = {k: v for k, v in event["payload"].items() if k != "seq"}
        execution_id = payload.get("execution_id")
        if execution_id:
            payload["execution_id"] = _as_uuid(str(execution_id))
        await self._send(TRADE_UPDATES, payload)


def non_browser_or_allowed_origin(application: Any) -> Any:
    """Channels' AllowedHostsOriginValidator, except that a handshake without an Origin header passes.

    Browsers always send Origin on a WebSocket handshake, and the check exists to stop another site's
    page from riding a customer's session cookie (cross-site WebSocket hijacking). SDKs and bots
    (alpaca-py's TradingStream among them) send no Origin and authenticate with keys or tokens in
    the first frame, so refusing them protects nothing. A present Origin is still checked.
    """
    from channels.security.websocket import AllowedHostsOriginValidator

    validated = AllowedHostsOriginValidator(application)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not any(name == b"origin" for name, _ in scope.get("headers", [])):
            return await application(scope, receive, send)
        return await validated(scope, receive, send)
    return app
