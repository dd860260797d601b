"""`python manage.py run_quote_store`: the quote store consumer (stops cleanly on SIGTERM/SIGINT)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Consume market.quotes into the Redis quote store and bars; persist daily bars."

    def handle(self, *args: Any, **options: Any) -> None:
        from workers.quote_store import quote_store_run

        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        quote_store_run(stop=stop)
