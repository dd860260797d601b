"""The market-data ingestor process loop (`manage.py run_md_ingestor`)."""

from __future__ import annotations

import logging
import threading

from django.conf import settings

from apps.fix.md_ingestor import MarketDataIngestor
from apps.fix.sessions import default_endpoint, md_session_spec
from apps.instruments.models import Instrument
from workers import kafka
from workers.heartbeat import heartbeat_beat

logger = logging.getLogger(__name__)

NAME = "md_ingestor"


def listed_symbols() -> list[str]:
    return list(Instrument.objects.filter(tradable=True, status="active").values_list("symbol", flat=True))


def run(*, stop: threading.Event, log_messages: bool = True) -> None:
    kafka.topics_ensure()
    ingestor = MarketDataIngestor(
        spec=md_session_spec(), endpoint=default_endpoint("md_ingestor"), symbols=listed_symbols,
        producer=kafka.producer(**{"linger.ms": settings.MARKET_DATA_LINGER_MS}), log_messages=log_messages,
    )
    ingestor.start()
    try:
        while not stop.is_set():
            try:
                heartbeat_beat(name=NAME, details=ingestor.state())
            except Exception:
                logger.exception("md ingestor: heartbeat failed")
            stop.wait(2.0)
    finally:
        ingestor.stop()
