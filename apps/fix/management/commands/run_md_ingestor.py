"""Run the md ingestor until SIGTERM / SIGINT."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from workers import md_ingestor


class Command(BaseCommand):
    help = "Run the md ingestor (see workers/md_ingestor.py)."

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        md_ingestor.run(stop=stop)
