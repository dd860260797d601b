"""The exchange simulator process loop (`manage.py run_exchange_simulator`).

Lists symbols from the Instrument table, runs the venue acceptor (apps/fix/venue/acceptor.py),
beats its heartbeat and applies the test switches an operator sets in Redis:
`fix:venue:switches` (JSON: latency_ms, reject_ratio, silent) and `fix:venue:drop` (seconds to
refuse logons after cutting the order sessions; consumed once).
"""

from __future__ import annotations

import json
import logging
import threading
import time

from django.conf import settings

from apps.fix.sessions import default_endpoint, md_session_spec, order_session_spec
from apps.fix.venue.acceptor import ExchangeSimulator, Venue
from apps.instruments.models import Instrument
from apps.ops.clients import redis_client
from workers.heartbeat import heartbeat_beat

logger = logging.getLogger(__name__)

NAME = "exchange_simulator"
SWITCHES_KEY = "fix:venue:switches"
DROP_KEY = "fix:venue:drop"


def listed_symbols() -> list[str]:
    return list(Instrument.objects.filter(tradable=True, status="active").values_list("symbol", flat=True))


def apply_switches(simulator: ExchangeSimulator) -> None:
    redis = redis_client()
    raw = redis.get(SWITCHES_KEY)
    switches = simulator.application.switches
    wanted = json.loads(raw) if raw else {}
    switches.latency_ms = int(wanted.get("latency_ms", 0))
    switches.reject_ratio = float(wanted.get("reject_ratio", 0.0))
    switches.silent = bool(wanted.get("silent", False))
    drop = redis.getdel(DROP_KEY)
    if drop is not None:
        simulator.application.drop_sessions(refuse_seconds=float(drop or 0))


def run(*, stop: threading.Event, symbols: list[str] | None = None) -> None:
    listed = symbols if symbols is not None else listed_symbols()
    if not listed:
        logger.warning("exchange simulator: no instruments listed; run `manage.py load_instruments`")
    simulator = ExchangeSimulator(
        venue=Venue(symbols=listed, seed=settings.FIX_VENUE_SEED, always_open=settings.FIX_VENUE_ALWAYS_OPEN),
        order_spec=order_session_spec(), md_spec=md_session_spec(), endpoint=default_endpoint("exchange"),
        md_interval=settings.FIX_VENUE_MD_INTERVAL_SECONDS,
        md_symbols_per_interval=settings.FIX_VENUE_MD_SYMBOLS_PER_INTERVAL,
        md_symbols_per_message=settings.FIX_VENUE_MD_SYMBOLS_PER_MESSAGE,
    )
    simulator.start()
    logger.info("exchange simulator: %d symbols, order port %s, market-data port %s", len(listed),
                settings.FIX_ORDER_PORT, settings.FIX_MD_PORT)
    try:
        while not stop.is_set():
            try:
                apply_switches(simulator)
                app = simulator.application
                heartbeat_beat(name=NAME, details={
                    "symbols": len(listed), "sessions_logged_on": sorted(app.logged_on),
                    "md_messages_sent": app.md_messages_sent, "md_entries_sent": app.md_entries_sent,
                    "switches": app.switches.as_dict(),
                })
            except Exception:
                logger.exception("exchange simulator: housekeeping failed")
            stop.wait(2.0)
    finally:
        simulator.stop()
        time.sleep(0.1)
