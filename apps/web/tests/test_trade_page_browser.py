"""The trading page in a real browser (Debian's chromium, headless, driven by Playwright) against
the live stack: uvicorn, the fanout and order-updates workers, Kafka, Redis, PostgreSQL.

A customer opens the page; a quote published to market.quotes ticks in the watchlist; the order
ticket places a limit order through /v2/orders and it shows among the open orders; the venue's
fill is applied by the trading core, its order update goes out through the outbox and Kafka, and
the page pops the fill notification, moves the order out of the open orders and shows the
position.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest

from apps.realtime.tests.conftest import Committed
from apps.realtime.tests.support import QuoteProducer, quote_envelope, session_cookie

CHROMIUM = Path("/usr/bin/chromium")
T = TypeVar("T")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="browser tests need Debian's chromium package (apt-get install chromium)")


def off_the_browser_thread(work: Callable[[], T]) -> T:
    """Run database work in its own thread: Playwright's sync API keeps an event loop running in
    the test's thread, and Django refuses ORM calls from a thread with a running loop."""
    result: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        from django.db import connections

        try:
            result.append(work())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=60)
    if errors:
        raise errors[0]
    return result[0]


def _customer_with_watchlist(committed: Committed, symbols: list[str]) -> tuple[Any, str]:
    from apps.accounts.models import Account
    from apps.api.models import Watchlist, WatchlistItem
    from apps.instruments.models import Instrument
    from apps.ledger.services import deposit
    from tests.factories import AccountFactory, InstrumentFactory, UserFactory

    user = committed.add(UserFactory(username=f"browser-{uuid.uuid4().hex[:10]}"))
    # A random account number: the account outlives the test (its journal rows are append-only).
    number = f"BK{uuid.uuid4().int % 10**10:010d}"
    account = committed.add(cast(Account, AccountFactory(owner=user, account_number=number)))
    deposit(account=account, amount=Decimal("10000.00"), reference="browser test")
    watchlist = committed.add(Watchlist.objects.create(account=account, name="Main"))
    for position, symbol in enumerate(symbols):
        instrument = committed.add(cast(Instrument, InstrumentFactory(symbol=symbol, name=f"{symbol} Browser Corp")))
        committed.add(WatchlistItem.objects.create(watchlist=watchlist, instrument=instrument, position=position))
    return account, session_cookie(user)


def _fill_and_publish(account_id: Any, price: Decimal) -> str:
    """What the FIX gateway and the outbox relay do for this account's open order: apply the
    venue's acknowledgement and fill, then publish the account's pending outbox rows."""
    from django.conf import settings

    from apps.orders.models import Order
    from apps.orders.services import execution_apply
    from apps.orders.types import ExecutionReport
    from apps.outbox.models import OutboxMessage
    from apps.outbox.services import outbox_mark_sent
    from workers.kafka import encode, producer

    order = Order.objects.get(account_id=account_id)
    execution_apply(report=ExecutionReport(order_id=order.id, exec_id=f"ack-{order.id}", exec_type="new"))
    execution_apply(report=ExecutionReport(
        order_id=order.id, exec_id=f"fill-{order.id}", exec_type="fill", last_qty=order.qty, last_price=price,
        cum_qty=order.qty, leaves_qty=Decimal("0"), avg_price=price))
    rows = list(OutboxMessage.objects.filter(topic=settings.TOPIC_ORDERS_UPDATES, key=str(account_id),
                                             sent_at__isnull=True).order_by("id"))
    kafka = producer()
    for row in rows:
        kafka.produce(row.topic, key=row.key.encode(), value=encode(row.envelope()))
    if kafka.flush(15):
        raise RuntimeError("order updates not delivered")
    outbox_mark_sent(ids=[row.id for row in rows])
    return str(order.id)


def test_trade_page_ticks_quotes_places_an_order_and_notifies_its_fill(
        live_address: str, committed: Committed, fanout_worker: None, order_updates_worker: None,
        quotes_producer: QuoteProducer) -> None:
    from playwright.sync_api import expect, sync_playwright

    from apps.ops.clients import redis_client

    tag = uuid.uuid4().hex[:4].upper()
    first, second = f"BRA{tag}", f"BRB{tag}"
    account, cookie = _customer_with_watchlist(committed, [first, second])
    redis_client().hset(f"quote:{first}", mapping={"bid": "100.00", "ask": "100.10", "last": "100.05"})
    name, _, value = cookie.partition("=")
    base = f"http://{live_address}"
    console_errors: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--headless", "--no-sandbox", "--disable-background-networking"])
        try:
            context = browser.new_context()
            context.add_cookies([{"name": name, "value": value, "url": base}])
            page = context.new_page()
            page.on("console", lambda message: console_errors.append(message.text)
                    if message.type == "error" else None)
            page.on("dialog", lambda dialog: dialog.accept())  # the ticket's confirmation
            page.goto(base + "/")

            # Funds from the ledger, the watchlist, and the socket is live.
            expect(page.locator("#cash")).to_contain_text("10,000.00", timeout=15_000)
            expect(page.locator(f"#watchlist-rows tr[data-symbol='{first}']")).to_be_visible()
            expect(page.locator("#connection")).to_have_text("live", timeout=15_000)

            # A quote published to market.quotes ticks in the watchlist row.
            row = page.locator(f"#watchlist-rows tr[data-symbol='{first}']")
            expect(row).not_to_contain_text("101.25")
            quotes_producer.send(quote_envelope(first, Decimal("101.25"), Decimal("101.30")))
            quotes_producer.flush()
            expect(row).to_contain_text("101.25", timeout=15_000)
            expect(row).to_contain_text("101.30")

            # The ticket places a limit buy; it shows among the open orders.
            ticket = page.locator("#ticket")
            ticket.locator("[name=symbol]").fill(first)
            ticket.locator("[name=side]").select_option("buy")
            ticket.locator("[name=type]").select_option("limit")
            ticket.locator("[name=qty]").fill("3")
            ticket.locator("[name=limit_price]").fill("100.50")
            ticket.locator("[type=submit]").click()
            expect(page.locator("#ticket-message")).to_contain_text(f"BUY 3 {first} limit @ 100.50", timeout=15_000)
            expect(page.locator("#order-rows")).to_contain_text(first, timeout=15_000)

            # The fill comes back through the trading core, the outbox, Kafka and the socket.
            off_the_browser_thread(lambda: _fill_and_publish(account.id, Decimal("100.40")))
            expect(page.locator("#toasts")).to_contain_text("fill", timeout=15_000)
            expect(page.locator("#toasts")).to_contain_text("3 @ 100.40")
            expect(page.locator("#order-rows")).to_contain_text("No open orders", timeout=15_000)
            positions = page.locator("#position-rows")
            expect(positions).to_contain_text(first, timeout=15_000)
            expect(positions).to_contain_text("100.40")
            # 10,000 - 3 x 100.40
            expect(page.locator("#cash")).to_contain_text("9,698.80", timeout=15_000)
        finally:
            browser.close()
    assert not console_errors, console_errors
