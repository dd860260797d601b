"""Outbox relay against the real Kafka-protocol broker: kill it mid-stream (SIGKILL) and restart;
every row reaches Kafka at least once, per-account order holds, and the ledger projection applies
each event once and replays identically into empty tables."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from django.conf import settings
from django.db import connections

from apps.ledger.models import Activity, DailyBalance
from apps.ledger.projections import projection_apply, projections_reset
from apps.ledger.selectors import cash_balances
from apps.ledger.services import deposit, withdraw
from apps.orders.services import execution_apply, order_place
from apps.orders.types import ExecutionReport
from apps.outbox.models import OutboxMessage
from workers.kafka import decode, topics_ensure

from .conftest import unique_account

ROOT = Path(__file__).resolve().parents[3]


def _relay(batch_size: int) -> subprocess.Popen:
    parts = urlsplit(os.environ["DATABASE_URL"])
    test_url = urlunsplit(parts._replace(path="/" + connections["default"].settings_dict["NAME"]))
    env = {**os.environ, "DATABASE_URL": test_url, "DJANGO_SETTINGS_MODULE": "brokerage.settings.test",
           "TEST_ISOLATION": os.environ.get("TEST_ISOLATION", "core")}
    return subprocess.Popen([sys.executable, "manage.py", "run_outbox_relay", "--batch-size", str(batch_size)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _read_all(topics: list[str], expected: int, timeout: float = 30.0) -> list[tuple[str, int, dict]]:
    consumer = Consumer({"bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS, "group.id": f"t-{uuid.uuid4()}",
                         "enable.auto.commit": False})
    metadata = consumer.list_topics(timeout=10)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING)
                     for topic in topics for p in metadata.topics[topic].partitions])
    seen: list[tuple[str, int, dict]] = []
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is None or message.error():
            if len(seen) >= expected and time.monotonic() - quiet_since > 2:
                break
            continue
        quiet_since = time.monotonic()
        seen.append((message.topic(), message.partition(), decode(message.value())))
    consumer.close()
    return seen


def test_relay_kill_and_restart_delivers_everything_and_projection_is_exact(committed_db, committed_instrument,
                                                                             settings):
    run = uuid.uuid4().hex[:8]
    settings.TOPIC_LEDGER_EVENTS = f"core{run}.ledger.events"
    settings.TOPIC_ORDERS_UPDATES = f"core{run}.orders.updates"
    settings.TOPIC_ORDERS_COMMANDS = f"core{run}.orders.commands"
    topics = [settings.TOPIC_LEDGER_EVENTS, settings.TOPIC_ORDERS_UPDATES, settings.TOPIC_ORDERS_COMMANDS]
    topics_ensure(topics=dict.fromkeys(topics, 2))

    accounts = [unique_account() for _ in range(3)]
    for account in accounts:
        for i in range(15):
            deposit(account=account, amount=Decimal("100"), reference=f"deposit {i}")
        withdraw(account=account, amount=Decimal("25"), reference="withdrawal")
        for i in range(3):
            order = order_place(account=account, symbol="RACE", side="buy", type="limit", time_in_force="day",
                                qty=Decimal("2"), limit_price=Decimal("10.00"))
            execution_apply(report=ExecutionReport(order_id=order.id, exec_id=f"{run}-{order.id}-1",
                                                   exec_type="partial_fill", last_qty=Decimal("1"),
                                                   last_price=Decimal("9.90"), cum_qty=Decimal("1"),
                                                   leaves_qty=Decimal("1")))
            execution_apply(report=ExecutionReport(order_id=order.id, exec_id=f"{run}-{order.id}-2",
                                                   exec_type="fill", last_qty=Decimal("1"),
                                                   last_price=Decimal(f"10.0{i}") - Decimal("0.05"),
                                                   cum_qty=Decimal("2"), leaves_qty=Decimal("0")))
    ours = OutboxMessage.objects.filter(topic__in=topics)
    expected = {str(e) for e in ours.values_list("event_id", flat=True)}
    assert len(expected) == 3 * (16 + 3 * 7)

    # One row per batch (a broker round trip each) and a tight watch, so the kill lands mid-stream.
    relay = _relay(batch_size=1)
    deadline = time.monotonic() + 60
    while ours.filter(sent_at__isnull=False).count() < len(expected) // 3 and time.monotonic() < deadline:
        time.sleep(0.002)
    relay.send_signal(signal.SIGKILL)
    relay.wait(10)
    sent_at_kill = ours.filter(sent_at__isnull=False).count()
    assert 0 < sent_at_kill < len(expected), f"kill was not mid-stream: {sent_at_kill}/{len(expected)}"

    relay = _relay(batch_size=50)
    deadline = time.monotonic() + 90
    while ours.filter(sent_at__isnull=True).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    relay.send_signal(signal.SIGTERM)
    assert relay.wait(30) == 0, relay.stderr.read().decode()[-2000:] if relay.stderr else ""
    assert not ours.filter(sent_at__isnull=True).exists()

    received = _read_all(topics, expected=len(expected))
    ids = [envelope["event_id"] for _, _, envelope in received]
    assert expected <= set(ids), f"{len(expected - set(ids))} events never reached Kafka"
    # Per account, order updates arrive in seq order (same key, same partition, commit order).
    seqs: dict[str, list[int]] = defaultdict(list)
    for topic, _, envelope in received:
        if topic == settings.TOPIC_ORDERS_UPDATES and envelope["payload"]["seq"] not in seqs[envelope["account_id"]]:
            seqs[envelope["account_id"]].append(envelope["payload"]["seq"])
    for account in accounts:
        assert seqs[str(account.id)] == sorted(seqs[str(account.id)]) and seqs[str(account.id)]

    ledger = [envelope for topic, _, envelope in received if topic == settings.TOPIC_LEDGER_EVENTS]
    projections_reset()
    for envelope in ledger + ledger:  # every event delivered twice: applied once
        projection_apply(envelope=envelope)

    def snapshot() -> tuple:
        activities = sorted((a.activity_id, a.activity_type, str(a.data)) for a in
                            Activity.objects.filter(account__in=accounts))
        balances = sorted((str(b.account_id), b.date, b.cash, b.positions_cost, b.deposits, b.withdrawals)
                          for b in DailyBalance.objects.filter(account__in=accounts))
        return activities, balances

    first = snapshot()
    for account in accounts:
        types = list(Activity.objects.filter(account=account).values_list("activity_type", flat=True))
        assert types.count("CSD") == 15 and types.count("CSW") == 1 and types.count("FILL") == 6
        last_day = DailyBalance.objects.filter(account=account).order_by("-date").first()
        assert last_day is not None and last_day.cash == cash_balances(account=account).total
    projections_reset()
    for envelope in ledger:
        projection_apply(envelope=envelope)
    assert snapshot() == first
