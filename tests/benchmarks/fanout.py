"""Fanout benchmark: N WebSocket clients, each subscribed to 20 of 500 symbols, quotes injected into
market.quotes at a fixed rate; tick-to-client latency, delivered quotes/s and conflation ratio
through the whole path (Kafka -> fanout worker -> channel layer -> uvicorn /ws/stream). Then, on
the same machine in the same run, the same clients against a bare `websockets` broadcast server
that sends every tick to every subscriber as fast as it can: the ceiling.

The same connected clients go through two measured phases. The latency phase injects `rate`
ticks/s, a load with headroom: its tick-to-client latency is what a customer sees. The capacity
phase injects `capacity_rate` ticks/s, more than the path can deliver on this machine, so what it
delivers is its capacity, the figure that is compared with the bare server's (which also runs flat
out). At the latency phase's rate delivery is bounded by demand (rate x subscribers per symbol),
not by the path, so a ratio taken there would say nothing about the path.

Arguments (key=value): clients=1000 symbols=500 per_client=20 rate=300 seconds=15
capacity_rate=3000 capacity_seconds=10 processes=2 (client processes) ceiling_seconds=8
web_workers=2 (uvicorn worker processes, as in the Procfile) server=uvicorn|daphne. Figures:
- delivered_per_s: quote entries received by all clients per second, capacity phase;
- p50_ms / p99_ms: client receive time minus the tick's timestamp (set when it was produced),
  latency phase; capacity_p50_ms / capacity_p99_ms: the same in the capacity phase (queueing);
- conflation_ratio: delivered quote entries / what per-tick delivery would have sent
  (sum over ticks of the symbol's subscribers), latency phase; 1.0 means nothing was conflated;
- ceiling_per_s: quote messages/s the bare server delivered to the same clients; ratio is
  delivered_per_s / ceiling_per_s;
- kafka_p50_ms / kafka_p99_ms: the broker hop alone for the same ticks (a probe consumer, latency
  phase only);
- failed_connections, load averages, server and channel layer, to read the figures by.
The benchmark creates 500 instruments ZB0000..ZB0499 and one user `bench-fanout` in the
database it runs against (created once, reused).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tests.benchmarks.common import free_port, prefix_topics, wait_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _subscriptions(clients: int, symbols: list[str], per_client: int) -> list[list[str]]:
    rng = random.Random(2026)  # a reproducible load pattern
    return [rng.sample(symbols, per_client) for _ in range(clients)]


# --- client processes -----------------------------------------------------------------------------

async def _client_main(url: str, headers: dict[str, str], origin: str, subscriptions: list[list[str]],
                       bare: bool, ready: Any, phase: Any, stop: Any) -> dict[str, Any]:
    """Counts quotes and samples latencies per measured phase: the parent sets `phase` to an odd
    number while a phase is measured and to an even one between phases (in-flight frames)."""
    from websockets.asyncio.client import connect

    latencies: dict[int, list[float]] = {}
    counts: dict[int, int] = {}
    received = [0]
    snapshots = [len(subscriptions) if bare else 0]
    ended = [0]  # connections that failed or closed before their snapshot

    sockets: list[Any] = []

    async def one(symbols: list[str]) -> None:
        try:
            await one_connection(symbols)
        finally:
            ended[0] += 1

    async def one_connection(symbols: list[str]) -> None:
        async with connect(url, additional_headers=headers, origin=origin,  # type: ignore[arg-type]
                           open_timeout=60, max_queue=None) as ws:
            sockets.append(ws)
            await ws.send(json.dumps({"action": "subscribe", "quotes": symbols}))
            snapshot_seen = bare
            # Plain `async for`: no per-frame timeout task; the connection is closed at the end.
            async for raw in ws:
                now = time.time()
                frame = json.loads(raw)
                if frame.get("type") != "quotes":
                    continue
                if frame.get("snapshot"):
                    snapshot_seen = True
                    snapshots[0] += 1
                    continue
                current = phase.value
                if not snapshot_seen or current % 2 == 0:
                    continue
                counts[current] = counts.get(current, 0) + len(frame["data"])
                sampled = latencies.setdefault(current, [])
                for quote in frame["data"]:
                    received[0] += 1
                    # Sample latencies to keep memory flat with many clients.
                    if received[0] % 7 == 0:
                        sent = (float(quote["ts_epoch"]) if "ts_epoch" in quote
                                else dt.datetime.fromisoformat(quote["ts"]).timestamp())
                        sampled.append((now - sent) * 1000)

    tasks = []
    for i, symbols in enumerate(subscriptions):
        tasks.append(asyncio.create_task(one(symbols)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)
    # Ready once every connection is subscribed (its snapshot arrived), or after 5 minutes.
    deadline = time.time() + 300
    while snapshots[0] + ended[0] < len(subscriptions) and time.time() < deadline:
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)
    ready.set()
    while not stop.is_set():
        await asyncio.sleep(0.05)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    errors = [repr(o) for o in outcomes if isinstance(o, BaseException)]
    return {"delivered": counts, "latencies": latencies, "connected": len(sockets),
            "errors": len(errors), "first_error": errors[0] if errors else None}


def _client_process(url: str, headers: dict[str, str], origin: str, subscriptions: list[list[str]], bare: bool,
                    ready: Any, phase: Any, stop: Any, results: Any) -> None:
    results.put(asyncio.run(_client_main(url, headers, origin, subscriptions, bare, ready, phase, stop)))


@dataclass
class Phase:
    delivered: int = 0
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    expected: int = 0  # per-tick deliveries the injected ticks would have caused


def _run_clients(url: str, headers: dict[str, str], origin: str, subs: list[list[str]], processes: int, bare: bool,
                 phases: list[tuple[float, Any]]) -> tuple[list[Phase], int]:
    """Connect the clients, then run each (seconds, inject) phase in turn; `inject(seconds)` returns
    the per-tick deliveries it caused. Frames still in flight after a phase are not counted."""
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    phase, stop = ctx.Value("i", 0), ctx.Event()
    readies = []
    procs = []
    chunk = (len(subs) + processes - 1) // processes
    for p in range(processes):
        ready = ctx.Event()
        readies.append(ready)
        proc = ctx.Process(target=_client_process, args=(url, headers, origin, subs[p * chunk:(p + 1) * chunk], bare,
                                                         ready, phase, stop, results), daemon=True)
        proc.start()
        procs.append(proc)
    for ready in readies:
        if not ready.wait(400):
            raise RuntimeError("client processes did not connect in time")
    time.sleep(2.0)  # let snapshots drain
    measured = [Phase() for _ in phases]
    for index, (seconds, inject) in enumerate(phases):
        phase.value = 2 * index + 1
        started = time.time()
        measured[index].expected = inject(seconds)
        measured[index].elapsed = time.time() - started
        phase.value = 2 * index + 2
        time.sleep(1.5)  # in-flight frames of this phase are not counted in the next
    stop.set()
    failed = 0
    for _ in procs:
        try:
            result = results.get(timeout=30)
        except Exception as exc:
            print(f"a client process reported nothing: {exc!r}", file=sys.stderr)
            continue
        for index, one in enumerate(measured):
            one.delivered += result["delivered"].get(2 * index + 1, 0)
            one.latencies.extend(result["latencies"].get(2 * index + 1, []))
        failed += result["errors"]
        if result["errors"]:
            print(f"{result['errors']} client connections failed, e.g. {result['first_error']}", file=sys.stderr)
    for proc in procs:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
    return measured, failed


# --- the bare ceiling server ----------------------------------------------------------------------

_BARE_SERVER = r'''
import asyncio, json, sys, time, random
from websockets.asyncio.server import serve, broadcast
port, symbols = int(sys.argv[1]), sys.argv[2].split(",")
groups = {s: set() for s in symbols}
async def handler(ws):
    subscribed = json.loads(await ws.recv())["quotes"]
    for s in subscribed:
        groups[s].add(ws)
    try:
        await ws.wait_closed()
    finally:
        for s in subscribed:
            groups[s].discard(ws)
async def pump():
    rng = random.Random(1)
    i = 0
    while True:
        for _ in range(50):
            s = symbols[rng.randrange(len(symbols))]
            i += 1
            frame = json.dumps({"type": "quotes", "data": [{"symbol": s, "bid": str(i), "ask": str(i + 1),
                                "ts_epoch": repr(time.time())}]})
            broadcast(groups[s], frame)
        await asyncio.sleep(0)
async def main():
    async with serve(handler, "127.0.0.1", port, max_queue=None, write_limit=2**20, compression=None):
        print("ready", flush=True)
        await asyncio.sleep(2.0 if len(sys.argv) < 4 else float(sys.argv[3]))
        await pump()
asyncio.run(main())
'''


# --- the real path ----------------------------------------------------------------------------------

def _prepare(symbol_count: int) -> tuple[list[str], str]:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from apps.accounts.models import User
    from apps.instruments.models import Exchange, Instrument

    # The web nodes serve this database: bring it to the current schema first (as `make run` does).
    call_command("migrate", interactive=False, verbosity=0)
    symbols = [f"ZB{i:04d}" for i in range(symbol_count)]
    existing = set(Instrument.objects.filter(symbol__in=symbols).values_list("symbol", flat=True))
    Instrument.objects.bulk_create([Instrument(symbol=s, name=f"{s} fanout benchmark", exchange=Exchange.NYSE)
                                    for s in symbols if s not in existing])
    user, _ = User.objects.get_or_create(username="bench-fanout", defaults={"email": "bench@example.com"})
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return symbols, f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def _spawn(args: list[str], env: dict[str, str], log: str) -> subprocess.Popen:
    # Output goes to a file: an unread pipe fills up and then blocks the server on its next log line.
    path = os.path.join(tempfile.gettempdir(), f"bench-fanout-{log}.log")
    with open(path, "w") as out:
        print(f"{log} output: {path}", file=sys.stderr)
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)


class _KafkaProbe:
    """Measures the broker hop alone in the same run: a consumer assigned (no group join) to every
    partition of market.quotes at its end, recording receive time minus the tick's timestamp."""

    def __init__(self, topic: str) -> None:
        import threading

        from confluent_kafka import OFFSET_END, TopicPartition

        from workers.kafka import consumer

        self.kafka = consumer(group_id=f"bench-probe-{uuid.uuid4().hex[:8]}")
        partitions = self.kafka.list_topics(topic, timeout=10).topics[topic].partitions
        self.kafka.assign([TopicPartition(topic, p, OFFSET_END) for p in partitions])
        self.latencies: list[float] = []
        self.started = time.time()  # ticks older than the probe (an earlier run's) do not count
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            for message in self.kafka.consume(num_messages=500, timeout=0.05):
                if message.error():
                    continue
                now = time.time()
                try:
                    payload = json.loads(message.value() or b"{}")["payload"]
                    sent = dt.datetime.fromisoformat(payload["quotes"][0]["ts"]).timestamp()
                except (ValueError, KeyError, IndexError, TypeError):
                    continue
                if sent >= self.started:
                    self.latencies.append((now - sent) * 1000)

    def close(self) -> list[float]:
        self.stop.set()
        self.thread.join(timeout=5)
        self.kafka.close()
        return self.latencies


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def run(*args: str) -> dict[str, Any]:
    options = {"clients": 1000, "symbols": 500, "per_client": 20, "rate": 300, "seconds": 15, "processes": 2,
               "capacity_rate": 3000, "capacity_seconds": 10, "ceiling_seconds": 8, "web_workers": 2}
    server = "uvicorn"
    for arg in args:
        key, _, value = arg.partition("=")
        if key == "server" and value in {"uvicorn", "daphne"}:
            server = value
            continue
        if key not in options:
            raise SystemExit(f"unknown option {key}; known: {', '.join(options)}, server=uvicorn|daphne")
        options[key] = int(value)
    load_before = os.getloadavg()[0]
    from django.conf import settings

    from workers.kafka import producer, topics_ensure

    prefix = f"bench-fanout-{uuid.uuid4().hex[:8]}."
    prefix_topics(prefix)
    topics_ensure()
    symbols, cookie = _prepare(options["symbols"])
    subs = _subscriptions(options["clients"], symbols, options["per_client"])
    subscribers = dict.fromkeys(symbols, 0)
    for chosen in subs:
        for s in chosen:
            subscribers[s] += 1
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "KAFKA_TOPIC_PREFIX": prefix}
    port = free_port()
    group = f"bench-fanout-{uuid.uuid4().hex[:8]}"
    if server == "daphne":
        # daphne has no worker processes: one process, as `daphne brokerage.asgi:application` would run.
        # Its 5 s handshake timeout drops most of 1,000 simultaneous handshakes: same 60 s as the clients.
        web = _spawn([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "-v", "0",
                      "--websocket_connect_timeout", "60", "brokerage.asgi:application"], env, "web")
    else:
        # Several worker processes share the port; each has its own quote hub on the channel layer.
        web = _spawn([sys.executable, "-m", "uvicorn", "brokerage.asgi:application", "--host", "127.0.0.1", "--port",
                      str(port), "--ws", "websockets", "--no-access-log", "--log-level", "warning",
                      "--workers", str(options["web_workers"]), "--timeout-worker-healthcheck", "30",
                      "--ws-per-message-deflate", "false"], env, "web")
    fanout = _spawn([sys.executable, "-c", "import django, threading, signal; django.setup(); "
                     "from workers.fanout import fanout_run; stop = threading.Event(); "
                     "signal.signal(signal.SIGTERM, lambda *a: stop.set()); "
                     f"fanout_run(stop=stop, name='bench-fanout', group_id='{group}')"],
                    {**env, "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"]}, "fanout")
    # Batches as the md ingestor (the producer of market.quotes in production) makes them.
    kafka = producer(**{"linger.ms": settings.MARKET_DATA_LINGER_MS})
    try:
        wait_port(port)
        # Wait until the fanout consumer owns partitions: a probe tick must reach Redis-free path,
        # so watch the fanout heartbeat instead.
        from workers.heartbeat import heartbeat_read

        deadline = time.time() + 90
        while heartbeat_read(name="bench-fanout") is None and time.time() < deadline:
            time.sleep(0.5)
        time.sleep(8.0)  # group join on the broker
        rng = random.Random(7)

        # The injector stands in for the md ingestor and shares the machine with what is measured,
        # so it does as little as it can per tick: one template, precomputed prices and keys. The
        # envelope is the one the ingestor produces (docs/events.md); ts is stamped at send time.
        prices = [(str(p), str(p + Decimal("0.02"))) for p in (Decimal(100) + Decimal(i) / 100 for i in range(1000))]
        keys = {symbol: symbol.encode() for symbol in symbols}
        template = ('{{"event_id":"{id}","type":"MarketData","occurred_at":"{ts}","account_id":null,'
                    '"payload":{{"symbol":"{symbol}","quotes":[{{"bid":"{bid}","ask":"{ask}","bid_size":"100",'
                    '"ask_size":"100","ts":"{ts}"}}],"trades":[]}}}}')
        topic = settings.TOPIC_MARKET_QUOTES

        def injector(rate: int) -> Any:
            def inject(seconds: float) -> int:
                interval = 1.0 / rate
                start = time.time()
                sent = expected = 0
                while time.time() - start < seconds:
                    delay = start + sent * interval - time.time()
                    if delay > 0:
                        time.sleep(delay)
                    symbol = symbols[rng.randrange(len(symbols))]
                    ts = dt.datetime.fromtimestamp(time.time(), tz=dt.UTC).isoformat()
                    bid, ask = prices[sent % 1000]
                    kafka.produce(topic, key=keys[symbol], value=template.format(
                        id=uuid.uuid4(), ts=ts, symbol=symbol, bid=bid, ask=ask).encode())
                    kafka.poll(0)
                    expected += subscribers[symbol]
                    sent += 1
                kafka.flush(10)
                return expected
            return inject

        probe = _KafkaProbe(settings.TOPIC_MARKET_QUOTES)
        kafka_latencies: list[float] = []
        latency_inject = injector(options["rate"])

        def latency_phase(seconds: float) -> int:
            # The probe is an instrument, not part of the path: it reads the latency phase only, so
            # it does not load the broker and a core during the capacity phase.
            try:
                return latency_inject(seconds)
            finally:
                kafka_latencies.extend(probe.close())

        origin = f"http://127.0.0.1:{port}"
        (latency, capacity), failed = _run_clients(
            f"ws://127.0.0.1:{port}/ws/stream", {"Cookie": cookie}, origin, subs, options["processes"], False,
            [(options["seconds"], latency_phase), (options["capacity_seconds"], injector(options["capacity_rate"]))])
    finally:
        _stop(fanout)
        _stop(web)

    # The ceiling: same clients and subscriptions, a bare websockets server broadcasting ticks.
    bare_port = free_port()
    bare = _spawn([sys.executable, "-c", _BARE_SERVER, str(bare_port), ",".join(symbols), "1"], env, "bare")
    try:
        wait_port(bare_port)

        def idle(seconds: float) -> int:
            time.sleep(seconds)
            return 0

        (ceiling,), _ = _run_clients(
            f"ws://127.0.0.1:{bare_port}/", {}, f"http://127.0.0.1:{bare_port}", subs, options["processes"], True,
            [(options["ceiling_seconds"], idle)])
    finally:
        _stop(bare)

    def percentile(values: list[float], q: int) -> float | None:
        return round(statistics.quantiles(values, n=100)[q - 1], 1) if len(values) >= 2 else None

    delivered_per_s = capacity.delivered / capacity.elapsed
    ceiling_per_s = ceiling.delivered / ceiling.elapsed
    return {
        "clients": options["clients"],
        # Capacity phase: ticks offered faster than the path delivers them; compared with the ceiling.
        "delivered_per_s": round(delivered_per_s, 1),
        # Latency phase: the normal injected rate, with headroom.
        "p50_ms": percentile(latency.latencies, 50),
        "p99_ms": percentile(latency.latencies, 99),
        "conflation_ratio": round(latency.delivered / latency.expected, 3) if latency.expected else None,
        "ceiling_per_s": round(ceiling_per_s, 1),
        "ratio": round(delivered_per_s / ceiling_per_s, 3) if ceiling_per_s else None,
        "injected_per_s": options["rate"],
        "latency_phase_delivered_per_s": round(latency.delivered / latency.elapsed, 1),
        "capacity_injected_per_s": options["capacity_rate"],
        "capacity_p50_ms": percentile(capacity.latencies, 50),
        "capacity_p99_ms": percentile(capacity.latencies, 99),
        "capacity_conflation_ratio": round(capacity.delivered / capacity.expected, 3) if capacity.expected else None,
        "failed_connections": failed,
        "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1],
        "server": server if server == "daphne" else f"uvicorn x{options['web_workers']}",
        "load_avg_1m_before": round(load_before, 2),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
        # The broker hop alone (producer -> Tansu -> a consumer), same ticks, same run.
        "kafka_p50_ms": percentile(kafka_latencies, 50),
        "kafka_p99_ms": percentile(kafka_latencies, 99),
    }
