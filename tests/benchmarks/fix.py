"""FIX round trip and market-data ingest, over real sessions on loopback.

Phase 1 (orders): K placer threads each place a market order through `order_place` and wait until
its fill is applied in PostgreSQL (order service -> outbox row -> outbox relay -> Kafka
orders.commands -> gateway -> 35=D -> exchange simulator process -> 35=8 -> execution_apply).
Round trip = placed -> fill applied. Phase 2 (market data): the md ingestor subscribes to many
symbols of the same simulator process and publishes to Kafka; md_updates_per_s counts the FIX
market-data entries (depth levels and trades) it turned into delivered Kafka events per second.

Own scratch database, topic prefix, Redis db and FIX stores, so dev data is never touched.
Arguments: [orders=1000] [placer_threads=4] [md_seconds=10] [md_symbols=300].
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections

ROOT = Path(__file__).resolve().parents[2]
SYMBOL = "FIXBENCH"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"exchange simulator did not listen on {port}")


def _closing(target: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            target()
        finally:
            connections.close_all()
    return run


def _prefix_topics(prefix: str) -> None:
    settings.TOPIC_ORDERS_COMMANDS = f"{prefix}orders.commands"
    settings.TOPIC_ORDERS_UPDATES = f"{prefix}orders.updates"
    settings.TOPIC_LEDGER_EVENTS = f"{prefix}ledger.events"
    settings.TOPIC_MARKET_QUOTES = f"{prefix}market.quotes"
    settings.KAFKA_TOPICS = dict.fromkeys(
        (settings.TOPIC_ORDERS_COMMANDS, settings.TOPIC_ORDERS_UPDATES, settings.TOPIC_LEDGER_EVENTS,
         settings.TOPIC_MARKET_QUOTES), settings.KAFKA_TOPIC_PARTITIONS)


def _start_venue(*, store: Path, order_port: int, md_port: int, symbols: list[str], redis_url: str) -> subprocess.Popen:
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "brokerage.settings.dev", "REDIS_URL": redis_url,
        "FIX_ORDER_PORT": str(order_port), "FIX_MD_PORT": str(md_port), "FIX_SENDER_COMP_ID": "BENCHBROKER",
        "FIX_TARGET_COMP_ID": "BENCHVENUE", "FIX_STORE_DIR": str(store), "FIX_VENUE_MD_INTERVAL_SECONDS": "0.005",
        "FIX_VENUE_MD_SYMBOLS_PER_INTERVAL": str(len(symbols)), "LOG_LEVEL": "WARNING",
    }
    log = (store / "exchange.log").open("w")
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_exchange_simulator", "--symbols", ",".join(symbols)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )


def _orders_phase(*, orders: int, placers: int, gateway: Any) -> dict[str, Any]:
    from apps.ledger.services import deposit
    from apps.orders.services import order_place
    from tests.factories import AccountFactory

    accounts = []
    for _ in range(placers):
        account = AccountFactory()
        deposit(account=account, amount=Decimal("10000000"), reference="fix benchmark")
        accounts.append(account)
    done: dict[str, tuple[float, str]] = {}
    waiters: dict[str, threading.Event] = {}
    lock = threading.Lock()

    def applied(report: Any) -> None:
        if report.exec_type in ("fill", "canceled", "rejected", "expired"):
            key = str(report.order_id)
            with lock:
                done[key] = (time.perf_counter(), report.exec_type)
                event = waiters.get(key)
            if event is not None:
                event.set()

    gateway.applied_callbacks.append(applied)
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    per_thread = [orders // placers + (1 if i < orders % placers else 0) for i in range(placers)]

    def placer(index: int) -> None:
        try:
            for _ in range(per_thread[index]):
                started = time.perf_counter()
                order = order_place(account=accounts[index], symbol=SYMBOL, side="buy", type="market",
                                    time_in_force="day", qty="1")
                key = str(order.id)
                event = threading.Event()
                with lock:
                    waiters[key] = event
                    finished = done.get(key)
                if finished is None:
                    event.wait(30)
                    with lock:
                        finished = done.get(key)
                with lock:
                    outcome = finished[1] if finished else "timeout"
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1
                    if finished and outcome == "fill":
                        latencies.append((finished[0] - started) * 1000)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=placer, args=(i,)) for i in range(placers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [0.0] * 99
    return {
        "round_trip_p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "round_trip_p99_ms": round(quantiles[98], 2),
        "orders_per_s": round(len(latencies) / elapsed, 1),
        "orders": orders, "orders_filled": len(latencies), "order_outcomes": outcomes,
        "placer_threads": placers,
    }


def _md_phase(*, seconds: float, symbols: list[str], md_port: int, store: Path) -> dict[str, Any]:
    from apps.fix.md_ingestor import MarketDataIngestor
    from apps.fix.sessions import Endpoint, SessionSpec
    from workers import kafka

    spec = SessionSpec(sender="BENCHBROKER", target="BENCHVENUEMD", port=md_port, persist_messages=False)
    delivered = {"events": 0}
    producer = kafka.producer(**{"linger.ms": 20, "batch.num.messages": 10000, "queue.buffering.max.messages": 500000})
    ingestor = MarketDataIngestor(spec=spec, endpoint=Endpoint(store_dir=store / "md", heartbeat_seconds=5),
                                  symbols=lambda: symbols, producer=producer, log_messages=False)
    original = ingestor._delivered

    def counted(error: Any, message: Any) -> None:
        if error is None:
            delivered["events"] += 1
        original(error, message)

    ingestor._delivered = counted  # type: ignore[method-assign]
    ingestor.start()
    try:
        deadline = time.monotonic() + 20
        while ingestor.stats.messages < len(symbols) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # past the snapshots: measure the incremental stream
        stats = ingestor.stats
        entries0, messages0, published0 = stats.entries_published, stats.messages, stats.events_published
        t0 = time.perf_counter()
        time.sleep(seconds)
        elapsed = time.perf_counter() - t0
        entries, messages = stats.entries_published - entries0, stats.messages - messages0
        published = ingestor.stats.events_published - published0
    finally:
        ingestor.stop()
    return {
        "md_updates_per_s": round(entries / elapsed, 1),
        "md_messages_per_s": round(messages / elapsed, 1),
        "md_events_published_per_s": round(published / elapsed, 1),
        "md_events_delivered": delivered["events"], "md_delivery_errors": ingestor.stats.delivery_errors,
        "md_backlog_at_end": ingestor.inbound.qsize(), "md_symbols": len(symbols), "md_seconds": seconds,
    }


def run(*args: str) -> dict[str, Any]:
    orders = int(args[0]) if len(args) > 0 else 1000
    placers = int(args[1]) if len(args) > 1 else 4
    md_seconds = float(args[2]) if len(args) > 2 else 10.0
    md_symbols = int(args[3]) if len(args) > 3 else 300

    from apps.fix.sessions import Endpoint, SessionSpec
    from apps.fix.venue.market_maker import start_price
    from apps.ops.clients import redis_client
    from tests.factories import InstrumentFactory
    from workers.fix_gateway import GatewayWorker
    from workers.outbox_relay import OutboxRelay

    run_id = uuid.uuid4().hex[:8]
    _prefix_topics(f"bench-fix-{run_id}.")
    redis_url = settings.REDIS_URL.rsplit("/", 1)[0] + "/14"
    settings.REDIS_URL = redis_url
    redis_client.cache_clear()
    default = connections["default"]
    original_name = default.settings_dict["NAME"]
    default.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_fix_{run_id}"
    default.settings_dict["OPTIONS"]["pool"]["max_size"] = max(20, placers + 10)
    default.close_pool()
    default.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    store = Path(tempfile.mkdtemp(prefix="bench-fix-", dir=ROOT / "var"))
    order_port, md_port = _free_port(), _free_port()
    md_universe = [f"BM{i:04d}" for i in range(md_symbols)]
    (store / "venue").mkdir()
    venue = _start_venue(store=store / "venue", order_port=order_port, md_port=md_port,
                         symbols=[SYMBOL, *md_universe], redis_url=redis_url)
    stop = threading.Event()
    relay = OutboxRelay(name="outbox-bench-fix")
    threads: list[threading.Thread] = []
    try:
        InstrumentFactory(symbol=SYMBOL)
        price = start_price(SYMBOL)
        redis_client().hset(f"quote:{SYMBOL}", mapping={"bid": str(price), "ask": str(price), "last": str(price)})
        _wait_port(order_port)
        worker = GatewayWorker(
            spec=SessionSpec(sender="BENCHBROKER", target="BENCHVENUE", port=order_port),
            endpoint=Endpoint(store_dir=store / "gateway", heartbeat_seconds=5, reconnect_seconds=1),
            group_id=f"bench-fix-{run_id}", assign_partitions=True,
        )
        threads = [threading.Thread(target=_closing(relay.run), daemon=True),
                   threading.Thread(target=_closing(lambda: worker.run(stop=stop)), daemon=True)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while not worker.gateway.logged_on.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        figures = _orders_phase(orders=orders, placers=placers, gateway=worker.gateway)
        figures.update(_md_phase(seconds=md_seconds, symbols=md_universe, md_port=md_port, store=store))
        from apps.ledger.verify import ledger_verify

        figures["ledger_verified"] = ledger_verify().ok
        return figures
    finally:
        stop.set()
        relay.stop.set()
        for thread in threads:
            thread.join(timeout=15)
        if venue.poll() is None:
            venue.terminate()
            try:
                venue.wait(timeout=15)
            except subprocess.TimeoutExpired:
                venue.kill()
        redis_client().delete(f"quote:{SYMBOL}")
        connections.close_all()
        default.close_pool()
        default.creation.destroy_test_db(original_name, verbosity=0)
        shutil.rmtree(store, ignore_errors=True)
