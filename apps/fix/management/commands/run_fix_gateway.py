"""Run the fix gateway until SIGTERM / SIGINT."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from workers import fix_gateway


class Command(BaseCommand):
    help = "Run the fix gateway (see workers/fix_gateway.py)."

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        fix_gateway.run(stop=stop)
