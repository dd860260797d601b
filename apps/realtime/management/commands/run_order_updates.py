"""`python manage.py run_order_updates`: see workers/fanout.py (stops cleanly on SIGTERM/SIGINT)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the order_updates worker (workers/fanout.py)."

    def handle(self, *args: Any, **options: Any) -> None:
        from workers.fanout import order_updates_run

        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        order_updates_run(stop=stop)
