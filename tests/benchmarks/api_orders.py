"""Order placement over HTTP: POST /v2/orders with API-key auth against the app served the
production way (brokerage.settings.prod with DEBUG off, pooled PostgreSQL connections, uvicorn with
uvloop/httptools and N worker processes), from C concurrent keep-alive clients.

Same run, same scratch database: the service layer alone (order_place from threads, no HTTP) and
the pgbench ceiling of the equivalent SQL transaction, both reused from tests/benchmarks/orders.py,
so the figures say where the time goes: SQL floor -> service (Python + ORM) -> HTTP + DRF + auth +
rate limit. Arguments: [concurrency] [seconds] [accounts] [workers].
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

from django.db import connections

from tests.benchmarks import orders as core_bench
from tests.benchmarks.common import free_port

BODY = json.dumps({"symbol": "BENCH", "qty": "1", "side": "buy", "type": "limit", "time_in_force": "day",
                   "limit_price": "10.00"}).encode()


def _keys(accounts: int) -> list[tuple[str, str]]:
    from apps.accounts.models import Account
    from apps.api.models import ApiKey
    from apps.api.services import api_key_create

    keys = []
    for account in Account.objects.filter(account_number__startswith="BKB").order_by("account_number")[:accounts]:
        api_key, secret = api_key_create(user=account.owner, label="bench")
        keys.append((api_key.key_id, secret))
    # Measure order entry, not the 200/min default limit (the Redis check itself still runs).
    ApiKey.objects.filter(label="bench").update(rate_limit_per_minute=10**9)
    return keys


def _start_server(port: int, workers: int, database_name: str) -> subprocess.Popen[bytes]:
    db = connections["default"].settings_dict
    database_url = (f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST']}:{db['PORT']}/{database_name}")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "brokerage.settings.prod",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-" + uuid.uuid4().hex * 2,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback; TLS terminates in front in production
        "DB_POOL_MAX": "16",
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "uvicorn", "brokerage.asgi:application", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(workers), "--loop", "uvloop", "--http", "httptools",
               "--no-access-log", "--log-level", "warning"]
    return subprocess.Popen(command, env=env)


async def _wait_ready(port: int, key: tuple[str, str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            status, _ = await _request(reader, writer, "GET", "/v2/clock", key, b"")
            writer.close()
            if status == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.3)
    raise RuntimeError("the API server did not answer /v2/clock within 60 s")


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, method: str, path: str,
                   key: tuple[str, str], body: bytes) -> tuple[int, bytes]:
    """One HTTP/1.1 keep-alive request; a hand-rolled client keeps the load generator's CPU small."""
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAPCA-API-KEY-ID: {key[0]}\r\n"
            f"APCA-API-SECRET-KEY: {key[1]}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    writer.write(head + body)
    await writer.drain()
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def _load(port: int, keys: list[tuple[str, str]], concurrency: int, seconds: float
                ) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    failures = 0
    stop_at = 0.0

    async def client(index: int) -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        mine = keys[index::concurrency] or keys
        i = 0
        while time.perf_counter() < stop_at:
            key = mine[i % len(mine)]
            i += 1
            started = time.perf_counter()
            status, body = await _request(reader, writer, "POST", "/v2/orders", key, BODY)
            if status == 200:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                failures += 1
                if failures <= 3:
                    print(f"api_orders: HTTP {status}: {body[:200]!r}", file=sys.stderr)
        writer.close()

    stop_at = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(concurrency)))
    return latencies, failures, time.perf_counter() - started


def run(*args: str) -> dict[str, Any]:
    concurrency = int(args[0]) if len(args) > 0 else 8
    seconds = int(args[1]) if len(args) > 1 else 10
    accounts = int(args[2]) if len(args) > 2 else 200
    workers = int(args[3]) if len(args) > 3 else 2
    default = connections["default"]
    original_name = default.settings_dict["NAME"]
    scratch = f"bench_api_orders_{uuid.uuid4().hex[:8]}"
    default.settings_dict.setdefault("TEST", {})["NAME"] = scratch
    default.close_pool()
    default.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    server = None
    try:
        core_bench._setup(accounts)
        keys = _keys(accounts)
        connections.close_all()
        default.close_pool()
        port = free_port()
        server = _start_server(port, workers, scratch)
        asyncio.run(_wait_ready(port, keys[0]))
        asyncio.run(_load(port, keys, concurrency, 2))  # warm-up: imports, pools, caches in every worker
        latencies, failures, elapsed = asyncio.run(_load(port, keys, concurrency, seconds))
        server.terminate()
        server.wait(timeout=30)
        server = None
        # The service alone, same database, as many threads as the machine has cores times two.
        service_count, service_elapsed, service_latencies = core_bench._service_run(4, min(seconds, 10), accounts)
        ceiling = core_bench._pgbench_run(8, min(seconds, 10), accounts, core_bench._real_payloads(),
                                         protocol="extended")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        connections.close_all()
        default.close_pool()
        default.creation.destroy_test_db(original_name, verbosity=0)
    orders_per_s = len(latencies) / elapsed
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "orders_per_s": round(orders_per_s, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(quantiles[98], 2),
        "ceiling_per_s": round(ceiling, 1),
        "ratio": round(orders_per_s / ceiling, 3),
        "service_only_per_s": round(service_count / service_elapsed, 1),
        "service_only_p50_ms": round(statistics.median(service_latencies), 2),
        "failed_requests": failures,
        "concurrency": concurrency,
        "workers": workers,
        "seconds": seconds,
        "accounts": accounts,
        "server": "uvicorn+uvloop+httptools, brokerage.settings.prod (DEBUG off), DB pool 16/worker",
        "cpus": os.cpu_count(),
    }
