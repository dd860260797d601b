"""Helpers shared by the benchmark scenarios: loopback ports and per-run Kafka topics."""

from __future__ import annotations

import socket
import time

from django.conf import settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def prefix_topics(prefix: str) -> None:
    """Point this process at fresh topics named `<prefix><topic>` (subprocesses get the same with
    KAFKA_TOPIC_PREFIX=prefix). A run never reads what earlier runs or `make run` left on the dev
    broker, and Tansu's in-memory storage serves a fetch slower the longer a topic grows, so a
    shared topic would make each run slower than the last."""
    settings.KAFKA_TOPIC_PREFIX = prefix
    settings.TOPIC_ORDERS_COMMANDS = f"{prefix}orders.commands"
    settings.TOPIC_ORDERS_UPDATES = f"{prefix}orders.updates"
    settings.TOPIC_LEDGER_EVENTS = f"{prefix}ledger.events"
    settings.TOPIC_MARKET_QUOTES = f"{prefix}market.quotes"
    settings.KAFKA_TOPICS = dict.fromkeys(
        (settings.TOPIC_ORDERS_COMMANDS, settings.TOPIC_ORDERS_UPDATES, settings.TOPIC_LEDGER_EVENTS,
         settings.TOPIC_MARKET_QUOTES), settings.KAFKA_TOPIC_PARTITIONS)
