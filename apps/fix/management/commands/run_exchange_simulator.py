"""Run the exchange simulator until SIGTERM / SIGINT."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from workers import exchange_simulator


class Command(BaseCommand):
    help = "Run the exchange simulator (see workers/exchange_simulator.py)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--symbols", default="", help="comma-separated symbols (default: the Instrument table)")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        symbols = [s.strip().upper() for s in options["symbols"].split(",") if s.strip()] or None
        exchange_simulator.run(stop=stop, symbols=symbols)
