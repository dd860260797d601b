"""The real ledger projector process (`manage.py run_ledger_projector`) fed by the real outbox relay
process over the Kafka-protocol broker: the read models (activities, daily balances) match the
ledger, and an event the relay publishes twice (a crash between delivery and marking it sent) is
applied once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from django.conf import settings
from django.db import connections

from apps.ledger.models import Activity, DailyBalance, Position, ProjectedEvent
from apps.ledger.selectors import cash_balances
from apps.ledger.services import deposit, withdraw
from apps.orders.services import execution_apply, order_place
from apps.orders.types import ExecutionReport
from apps.outbox.models import OutboxMessage
from workers.kafka import decode, topics_ensure

from .conftest import unique_account

ROOT = Path(__file__).resolve().parents[3]
PROJECTOR_GROUP = "ledger-projector"


def _worker(command: str, isolation: str) -> subprocess.Popen:
    """A worker process on the test database whose topic prefix is `isolation.`."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    test_url = urlunsplit(parts._replace(path="/" + connections["default"].settings_dict["NAME"]))
    env = {**os.environ, "DATABASE_URL": test_url, "DJANGO_SETTINGS_MODULE": "brokerage.settings.test",
           "TEST_ISOLATION": isolation}
    return subprocess.Popen([sys.executable, "manage.py", command], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait(condition: Callable[[], bool], timeout: float, what: str, *processes: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        for process in processes:
            if process.poll() is not None:
                raise AssertionError(f"{what}: worker exited {process.returncode}: "
                                     f"{process.stderr.read().decode()[-2000:] if process.stderr else ''}")
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _group_caught_up(topic: str) -> bool:
    """True when the projector's committed offsets reached the end of every partition."""
    client = Consumer({"bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS, "group.id": PROJECTOR_GROUP,
                       "enable.auto.commit": False})
    try:
        partitions = client.list_topics(topic, timeout=10).topics[topic].partitions
        committed = client.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        for tp in committed:
            _, high = client.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)
            if high > 0 and tp.offset < high:
                return False
        return True
    finally:
        client.close()


def _copies_on_topic(topic: str, event_id: str, *, wanted: int, timeout: float = 30.0) -> int:
    """How many messages on `topic` carry `event_id` (read from the start of every partition)."""
    reader = Consumer({"bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS, "group.id": f"probe-{uuid.uuid4()}",
                       "enable.auto.commit": False})
    try:
        partitions = reader.list_topics(topic, timeout=10).topics[topic].partitions
        reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        copies = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and copies < wanted:
            message = reader.poll(0.5)
            if message is not None and not message.error() and decode(message.value())["event_id"] == event_id:
                copies += 1
        return copies
    finally:
        reader.close()


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert code == 0, process.stderr.read().decode()[-2000:] if process.stderr else code


def test_projector_process_builds_read_models_and_applies_a_duplicate_once(committed_db, committed_instrument,
                                                                            settings):
    isolation = f"core2p{uuid.uuid4().hex[:8]}"
    prefix = f"{isolation}."
    settings.TOPIC_LEDGER_EVENTS = f"{prefix}ledger.events"
    settings.TOPIC_ORDERS_UPDATES = f"{prefix}orders.updates"
    settings.TOPIC_ORDERS_COMMANDS = f"{prefix}orders.commands"
    topics = [settings.TOPIC_LEDGER_EVENTS, settings.TOPIC_ORDERS_UPDATES, settings.TOPIC_ORDERS_COMMANDS]
    topics_ensure(topics={**dict.fromkeys(topics, 2), f"{prefix}market.quotes": 1})

    buyer, seller = unique_account(), unique_account()
    for account in (buyer, seller):
        deposit(account=account, amount=Decimal("500.00"), reference="opening deposit")
        deposit(account=account, amount=Decimal("250.25"), reference="second deposit")
    withdraw(account=buyer, amount=Decimal("100.10"), reference="rent")
    order = order_place(account=buyer, symbol="RACE", side="buy", type="limit", time_in_force="day",
                        qty=Decimal("3"), limit_price=Decimal("10.00"))
    execution_apply(report=ExecutionReport(order_id=order.id, exec_id=f"{order.id}-1", exec_type="partial_fill",
                                           last_qty=Decimal("1"), last_price=Decimal("9.80"), cum_qty=Decimal("1"),
                                           leaves_qty=Decimal("2")))
    execution_apply(report=ExecutionReport(order_id=order.id, exec_id=f"{order.id}-2", exec_type="fill",
                                           last_qty=Decimal("2"), last_price=Decimal("9.95"), cum_qty=Decimal("3"),
                                           leaves_qty=Decimal("0")))
    sell = order_place(account=buyer, symbol="RACE", side="sell", type="limit", time_in_force="day",
                       qty=Decimal("1"), limit_price=Decimal("10.00"))
    execution_apply(report=ExecutionReport(order_id=sell.id, exec_id=f"{sell.id}-1", exec_type="fill",
                                           last_qty=Decimal("1"), last_price=Decimal("10.20"), cum_qty=Decimal("1"),
                                           leaves_qty=Decimal("0")))

    ledger_rows = OutboxMessage.objects.filter(topic=settings.TOPIC_LEDGER_EVENTS)
    ours = OutboxMessage.objects.filter(topic__in=topics)
    event_ids = set(ledger_rows.values_list("event_id", flat=True))
    assert len(event_ids) == 4 + 1 + 2 + 3 + 1, \
        "deposits, withdrawal, two holds, three fills and the sale's fees journal once each"

    projector = _worker("run_ledger_projector", isolation)
    relay = _worker("run_outbox_relay", isolation)
    try:
        _wait(lambda: not ours.filter(sent_at__isnull=True).exists(), 60, "the relay to send every row", relay)
        _wait(lambda: ProjectedEvent.objects.filter(event_id__in=event_ids).count() == len(event_ids), 90,
              "the projector to apply every ledger event", projector)
        _wait(lambda: _group_caught_up(settings.TOPIC_LEDGER_EVENTS), 30, "the projector to commit", projector)

        def snapshot() -> tuple:
            activities = sorted((a.activity_id, a.activity_type, str(a.data))
                                for a in Activity.objects.filter(account__in=[buyer, seller]))
            balances = sorted((str(b.account_id), b.date, b.cash, b.positions_cost, b.realized_pl, b.deposits,
                               b.withdrawals) for b in DailyBalance.objects.filter(account__in=[buyer, seller]))
            return activities, balances

        first = snapshot()
        for account, csd, csw, fill_count, fee_count in ((buyer, 2, 1, 3, 1), (seller, 2, 0, 0, 0)):
            types = list(Activity.objects.filter(account=account).values_list("activity_type", flat=True))
            assert (types.count("CSD"), types.count("CSW"), types.count("FILL"), types.count("FEE")) == \
                (csd, csw, fill_count, fee_count)
            last = DailyBalance.objects.filter(account=account).order_by("-date").first()
            assert last is not None
            assert last.cash == cash_balances(account=account).total
            assert sum(DailyBalance.objects.filter(account=account).values_list("deposits", flat=True)) == \
                Decimal("750.25")
        fills = sorted((a.data["qty"], a.data["price"], a.data["side"], a.data["order_status"])
                       for a in Activity.objects.filter(account=buyer, activity_type="FILL"))
        assert fills == [("1", "10.2", "sell", "filled"), ("1", "9.8", "buy", "partially_filled"),
                         ("2", "9.95", "buy", "filled")]
        # Selling 1 share for $10.20: SEC fee and FINRA TAF each round up to a cent.
        fee = Activity.objects.get(account=buyer, activity_type="FEE").data
        assert fee["net_amount"] == "-0.02" and "SEC 0.01, FINRA TAF 0.01" in fee["description"]
        assert sum(DailyBalance.objects.filter(account=buyer).values_list("fees", flat=True)) == Decimal("-0.02")
        position = Position.objects.get(account=buyer, symbol="RACE")
        buyer_day = DailyBalance.objects.filter(account=buyer).order_by("-date").first()
        assert buyer_day is not None
        assert buyer_day.positions_cost == position.cost_basis
        assert sum(DailyBalance.objects.filter(account=buyer).values_list("realized_pl", flat=True)) == \
            position.realized_pl != 0

        # The relay crashed after the broker acknowledged a deposit but before marking it sent:
        # it publishes the same envelope (same event id) again.
        duplicate = ledger_rows.filter(type="JournalPosted", payload__kind="deposit",
                                       account_id=seller.id).order_by("id").first()
        assert duplicate is not None
        OutboxMessage.objects.filter(id=duplicate.id).update(sent_at=None)
        _wait(lambda: OutboxMessage.objects.get(id=duplicate.id).sent_at is not None, 30,
              "the relay to send the row again", relay)
        copies = _copies_on_topic(settings.TOPIC_LEDGER_EVENTS, str(duplicate.event_id), wanted=2)
        assert copies == 2, "the duplicate really reached the topic"
        # Only now (the duplicate is below the high watermark) does "caught up" mean "consumed it".
        _wait(lambda: _group_caught_up(settings.TOPIC_LEDGER_EVENTS), 30,
              "the projector to consume the duplicate", projector)
        assert snapshot() == first, "a duplicate event changed the read models"
        assert sum(DailyBalance.objects.filter(account=seller).values_list("deposits", flat=True)) == \
            Decimal("750.25")
    finally:
        for process in (relay, projector):
            _stop(process)
