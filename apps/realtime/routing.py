"""WebSocket routes (Channels)."""

from django.urls import path

from apps.api.stream import TradeUpdatesConsumer
from apps.realtime.consumers import StreamConsumer

websocket_urlpatterns: list = [
    path("ws/stream", StreamConsumer.as_asgi()),
    path("stream", TradeUpdatesConsumer.as_asgi()),  # Alpaca trade_updates protocol (apps/api)
]
