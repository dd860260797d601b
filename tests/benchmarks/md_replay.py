"""A market-data replay venue for the FIX benchmark (`python -m tests.benchmarks.md_replay`).

The exchange simulator computes every refresh in Python: a market-maker requote through the
matching engine per symbol update, which tops out near 50,000 entries/s on one core of this
machine. That limit belongs to the stand-in venue, not to the ingestor, whose capacity is what the
benchmark's market-data goal is about. This process is a QuickFIX acceptor that first records
refreshes with the simulator's own code (its books, market makers and `incremental_refresh`, so
the messages are exactly what the simulator sends), then, once the ingestor's MarketDataRequest
arrives, replays them in a loop at a fixed rate of entries per second.

Arguments: port sender target store_dir symbols(comma-separated) symbols_per_message entries_per_s
(sender/target as the venue sees the session). Prints "recorded N messages" when it listens.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import django


def record(symbols: list[str], per_message: int, steps: int) -> tuple[list[Any], int]:
    """`steps` requotes of every symbol (`Venue.requote`, as the simulator's market-data thread
    does), as 35=X messages of `per_message` symbols each."""
    from apps.fix.venue.acceptor import ExchangeApplication, Venue

    venue = Venue(symbols=symbols, seed=2026)
    builder = ExchangeApplication(venue)
    messages = []
    for _ in range(steps):
        for first in range(0, len(symbols), per_message):
            updates = [(symbol, venue.requote(symbol)[1]) for symbol in symbols[first:first + per_message]]
            messages.append(builder.incremental_refresh(updates))
    return messages, builder.md_entries_sent


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")
    django.setup()
    import quickfix as fix

    from apps.fix import messages as m
    from apps.fix.sessions import Endpoint, SessionSpec, session_settings

    port, sender, target, store = int(argv[0]), argv[1], argv[2], Path(argv[3])
    symbols, per_message, entries_per_s = argv[4].split(","), int(argv[5]), float(argv[6])
    messages, entries = record(symbols, per_message, steps=10)
    entries_per_message = entries / len(messages)
    stop = threading.Event()
    subscribed = threading.Event()

    class Replay(fix.Application):  # type: ignore[misc]
        session: Any = None

        def onCreate(self, sessionID: Any) -> None:
            return

        def onLogon(self, sessionID: Any) -> None:
            Replay.session = sessionID

        def onLogout(self, sessionID: Any) -> None:
            subscribed.clear()

        def toAdmin(self, message: Any, sessionID: Any) -> None:
            return

        def fromAdmin(self, message: Any, sessionID: Any) -> None:
            return

        def toApp(self, message: Any, sessionID: Any) -> None:
            return

        def fromApp(self, message: Any, sessionID: Any) -> None:
            if m.msg_type(message) == "V":
                subscribed.set()

    spec = SessionSpec(sender=sender, target=target, port=port, persist_messages=False)
    settings = session_settings(role="acceptor", sessions=[spec], endpoint=Endpoint(store_dir=store), name="replay")
    application = Replay()
    store_factory, log_factory = fix.FileStoreFactory(settings), fix.ScreenLogFactory(False, False, False)
    acceptor = fix.SocketAcceptor(application, store_factory, settings, log_factory)
    acceptor.start()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"recorded {len(messages)} messages, {entries_per_message:.1f} entries each", flush=True)
    # Send in 10 ms slices: as many messages per slice as the entry rate asks for.
    per_slice = max(1.0, entries_per_s / entries_per_message / 100)
    owed = 0.0
    index = 0
    next_slice = time.monotonic()
    while not stop.is_set():
        if not subscribed.wait(0.2):
            continue
        owed += per_slice
        while owed >= 1 and subscribed.is_set():
            fix.Session.sendToTarget(messages[index % len(messages)], Replay.session)
            index += 1
            owed -= 1
        next_slice += 0.01
        delay = next_slice - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            next_slice = time.monotonic()  # behind: do not burst to catch up
    acceptor.stop(True)


if __name__ == "__main__":
    main(sys.argv[1:])
