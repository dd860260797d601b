"""FIX round trip and market-data ingest, over real sessions on loopback.

Phase 1 (orders), in the production topology: the outbox relay, the FIX gateway and the exchange
simulator each run as their own process (`manage.py run_outbox_relay`, `run_fix_gateway`,
`run_exchange_simulator`, as `make run` starts them). K placer threads here place market orders
through `order_place` at a fixed total rate (open loop), and the path is order service -> outbox
row -> relay -> Kafka orders.commands -> gateway -> 35=D -> simulator -> 35=8 -> execution_apply.
Round trip = the order's `submitted_at` -> its fill's `Execution.created_at` (both written by the
processes that did the work, same clock); orders_per_s = fills / (first placement -> last fill).
Phase 2 (market data): the md ingestor (MarketDataIngestor, in this process) subscribes to
`md_symbols` symbols and publishes to Kafka; a figure counts the FIX market-data entries (depth
levels and trades) it turned into Kafka events per second. First against the simulator process
(md_simulator_updates_per_s: bounded by the simulator's own Python, about 5,000 symbol requotes a
second on one core). Then, with the other processes stopped, against tests/benchmarks/md_replay.py,
a QuickFIX acceptor replaying refreshes recorded with the simulator's code at `md_offered` entries
a second (md_updates_per_s: the ingestor's capacity, the figure the goal is about; it keeps up
when it equals md_offered_updates_per_s). md_backlog_at_end: events still in the Kafka producer's
queue when the phase ends (a few batches in flight is normal).

Own scratch database, topic prefix, Redis db and FIX stores, so dev data is never touched.
Arguments: [orders=1000] [rate=25 orders/s: below the 40-50/s at which this topology saturates on 2
cores, where queueing, not the path, sets the latency] [md_seconds=10] [md_symbols=300]
[md_offered=250000 entries/s, more than the ingestor takes on this machine].
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections

from tests.benchmarks.common import free_port, prefix_topics, wait_port

ROOT = Path(__file__).resolve().parents[2]
SYMBOL = "FIXBENCH"
REPLAY_TARGET = "BENCHREPLAYMD"


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


def _worker_env(*, redis_url: str, prefix: str, store: Path, order_port: int) -> dict[str, str]:
    """Environment of the relay and gateway processes: the scratch database, Redis db, topics and
    FIX stores of this run."""
    db = connections["default"].settings_dict
    url = (f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}")
    return {
        **os.environ, "DJANGO_SETTINGS_MODULE": "brokerage.settings.dev", "DATABASE_URL": url,
        "REDIS_URL": redis_url, "KAFKA_TOPIC_PREFIX": prefix, "FIX_ORDER_PORT": str(order_port),
        "FIX_SENDER_COMP_ID": "BENCHBROKER", "FIX_TARGET_COMP_ID": "BENCHVENUE", "FIX_STORE_DIR": str(store),
        "LOG_LEVEL": "WARNING", "DEBUG": "false",  # as deployed: Django does not record every query
    }


def _start_worker(command: str, env: dict[str, str], store: Path) -> subprocess.Popen:
    log = (store / f"{command}.log").open("w")
    return subprocess.Popen([sys.executable, "manage.py", command], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)


def _fill_times(order_ids: list[Any]) -> dict[str, tuple[float, float]]:
    """order id -> (submitted_at, fill applied at) for the orders that are filled."""
    from apps.orders.models import Execution, Order

    submitted = dict(Order.objects.filter(id__in=order_ids, status="filled").values_list("id", "submitted_at"))
    applied: dict[Any, Any] = {}
    for order_id, created in (Execution.objects.filter(order_id__in=list(submitted), exec_type="fill")
                              .values_list("order_id", "created_at")):
        applied[order_id] = created
    return {str(i): (submitted[i].timestamp(), applied[i].timestamp()) for i in submitted if i in applied}


def _orders_phase(*, orders: int, rate: float, placers: int = 4, accounts_per_placer: int = 10) -> dict[str, Any]:
    from apps.ledger.services import deposit
    from apps.orders.models import Order
    from apps.orders.services import order_place
    from tests.factories import AccountFactory

    # Many accounts, as in real traffic: the gateway applies reports in per-account shards.
    accounts = []
    for _ in range(placers * accounts_per_placer):
        account = AccountFactory()
        deposit(account=account, amount=Decimal("10000000"), reference="fix benchmark")
        accounts.append(account)

    def place(account: Any) -> Any:
        return order_place(account=account, symbol=SYMBOL, side="buy", type="market", time_in_force="day",
                           qty="1").id

    # Warm-up: the gateway has joined its consumer group and the session is up once this fills.
    warm = place(accounts[0])
    deadline = time.monotonic() + 90
    while not Order.objects.filter(id=warm, status="filled").exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the warm-up order was not filled within 90 s (see the worker logs)")
        time.sleep(0.05)
    placed: list[list[Any]] = [[] for _ in range(placers)]
    interval = placers / rate
    per_thread = [orders // placers + (1 if i < orders % placers else 0) for i in range(placers)]
    started = time.perf_counter()

    def placer(index: int) -> None:
        try:
            next_at = started + index * interval / placers
            for _ in range(per_thread[index]):
                delay = next_at - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                placed[index].append(place(accounts[index + placers * (len(placed[index]) % accounts_per_placer)]))
                next_at += interval
        finally:
            connections.close_all()

    threads = [threading.Thread(target=placer, args=(i,)) for i in range(placers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    order_ids = [order_id for ids in placed for order_id in ids]
    deadline = time.monotonic() + 60
    times = _fill_times(order_ids)
    while len(times) < len(order_ids) and time.monotonic() < deadline:
        time.sleep(0.5)
        times = _fill_times(order_ids)
    latencies = [(applied - submitted) * 1000 for submitted, applied in times.values()]
    span = (max(a for _, a in times.values()) - min(s for s, _ in times.values())) if times else 0.0
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [0.0] * 99
    return {
        "round_trip_p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "round_trip_p99_ms": round(quantiles[98], 2),
        "orders_per_s": round(len(times) / span, 1) if span else 0.0,
        "offered_orders_per_s": rate, "orders": orders, "orders_filled": len(times),
        "placer_threads": placers, "accounts": len(accounts),
        "topology": "relay, gateway and venue as separate processes",
    }


def _md_phase(*, seconds: float, symbols: list[str], md_port: int, target: str, store: Path) -> dict[str, Any]:
    """The md ingestor (in this process) on the market-data session of `target` at `md_port`."""
    from apps.fix.md_ingestor import MarketDataIngestor
    from apps.fix.sessions import Endpoint, SessionSpec
    from workers import kafka

    spec = SessionSpec(sender="BENCHBROKER", target=target, port=md_port, persist_messages=False)
    delivered = {"events": 0}
    producer = kafka.producer(**{"linger.ms": 20, "batch.num.messages": 10000, "queue.buffering.max.messages": 500000})
    ingestor = MarketDataIngestor(spec=spec, endpoint=Endpoint(store_dir=store / f"md-{target}", heartbeat_seconds=5),
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
        while ingestor.stats.messages < len(symbols) // 10 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2.0)  # past the snapshots: measure the incremental stream
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
        "md_backlog_at_end": ingestor.backlog(), "md_symbols": len(symbols), "md_seconds": seconds,
    }


def _md_replay(*, store: Path, port: int, symbols: list[str], entries_per_s: float) -> subprocess.Popen:
    log = (store / "md_replay.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.benchmarks.md_replay", str(port), REPLAY_TARGET, "BENCHBROKER",
         str(store / "replay"), ",".join(symbols), "10", str(entries_per_s)],
        cwd=ROOT, env={**os.environ, "DJANGO_SETTINGS_MODULE": "brokerage.settings.dev", "LOG_LEVEL": "WARNING"},
        stdout=log, stderr=subprocess.STDOUT,
    )
    wait_port(port)
    return process


def run(*args: str) -> dict[str, Any]:
    orders = int(args[0]) if len(args) > 0 else 1000
    rate = float(args[1]) if len(args) > 1 else 25.0
    md_seconds = float(args[2]) if len(args) > 2 else 10.0
    md_symbols = int(args[3]) if len(args) > 3 else 300
    md_offered = float(args[4]) if len(args) > 4 else 250_000.0

    from apps.fix.venue.market_maker import start_price
    from apps.ops.clients import redis_client
    from tests.factories import InstrumentFactory
    from workers import kafka

    settings.DEBUG = False  # the placers run order_place as deployed, without query recording
    run_id = uuid.uuid4().hex[:8]
    prefix = f"bench-fix-{run_id}."
    prefix_topics(prefix)
    kafka.topics_ensure()
    redis_url = settings.REDIS_URL.rsplit("/", 1)[0] + "/14"
    settings.REDIS_URL = redis_url
    redis_client.cache_clear()
    default = connections["default"]
    original_name = default.settings_dict["NAME"]
    default.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_fix_{run_id}"
    default.settings_dict["OPTIONS"]["pool"]["max_size"] = 20
    default.close_pool()
    default.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    store = Path(tempfile.mkdtemp(prefix="bench-fix-", dir=ROOT / "var"))
    order_port, md_port = free_port(), free_port()
    md_universe = [f"BM{i:04d}" for i in range(md_symbols)]
    (store / "venue").mkdir()
    processes = [_start_venue(store=store / "venue", order_port=order_port, md_port=md_port,
                              symbols=[SYMBOL, *md_universe], redis_url=redis_url)]
    try:
        InstrumentFactory(symbol=SYMBOL)
        price = start_price(SYMBOL)
        redis_client().hset(f"quote:{SYMBOL}", mapping={"bid": str(price), "ask": str(price), "last": str(price)})
        wait_port(order_port)
        env = {**_worker_env(redis_url=redis_url, prefix=prefix, store=store, order_port=order_port),
               "FIX_GATEWAY_GROUP_ID": f"bench-fix-{run_id}"}
        processes += [_start_worker("run_outbox_relay", env, store), _start_worker("run_fix_gateway", env, store)]
        figures = _orders_phase(orders=orders, rate=rate)
        # Market data from the simulator itself: bounded by its Python requotes (see md_replay).
        live = _md_phase(seconds=md_seconds, symbols=md_universe, md_port=md_port, target="BENCHVENUEMD",
                         store=store)
        figures.update({key.replace("md_", "md_simulator_", 1): value for key, value in live.items()
                        if key in ("md_updates_per_s", "md_messages_per_s", "md_backlog_at_end")})
        # The ingestor's capacity: the simulator's recorded refreshes, replayed faster than it computes them.
        for process in processes:  # the venue, relay and gateway are done: leave the cores to the md path
            process.terminate()
        replay_port = free_port()
        processes.append(_md_replay(store=store, port=replay_port, symbols=md_universe, entries_per_s=md_offered))
        figures.update(_md_phase(seconds=md_seconds, symbols=md_universe, md_port=replay_port, target=REPLAY_TARGET,
                                 store=store))
        figures["md_offered_updates_per_s"] = md_offered
        figures["md_source"] = "simulator refreshes replayed by a QuickFIX acceptor (tests/benchmarks/md_replay.py)"
        from apps.ledger.verify import ledger_verify

        figures["ledger_verified"] = ledger_verify().ok
        return figures
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
        redis_client().delete(f"quote:{SYMBOL}")
        connections.close_all()
        default.close_pool()
        default.creation.destroy_test_db(original_name, verbosity=0)
        shutil.rmtree(store, ignore_errors=True)
