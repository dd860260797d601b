"""Orders, positions, account over HTTP: input validation, object-level access, nothing changed on denial."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

from apps.api.models import Watchlist
from apps.instruments.models import Instrument
from apps.ledger.selectors import cash_balances
from apps.ledger.services import deposit
from apps.marketdata.services import quote_apply
from apps.orders.models import Order
from apps.orders.services import execution_apply
from apps.orders.types import ExecutionReport
from apps.outbox.models import OutboxMessage
from tests.factories import InstrumentFactory

from .conftest import Customer

pytestmark = pytest.mark.django_db


def publish_quote(symbol: str, bid: str, ask: str, last: str) -> None:
    """Through the quote store's real entry point (the Kafka consumer calls the same service)."""
    now = dt.datetime.now(dt.UTC).isoformat()
    quote_apply(message={"event_id": str(uuid.uuid4()), "payload": {
        "symbol": symbol, "quotes": [{"bid": bid, "ask": ask, "bid_size": "100", "ask_size": "100", "ts": now}],
        "trades": [{"price": last, "size": "10", "ts": now}]}})


@pytest.fixture
def acme() -> Instrument:
    instrument: Instrument = InstrumentFactory(symbol="ACME", tick_size=Decimal("0.01"))  # type: ignore[assignment]
    publish_quote("ACME", "99.99", "100.01", "100.00")
    return instrument


@pytest.fixture
def funded(alice: Customer) -> Customer:
    deposit(account=alice.account, amount=Decimal("10000"), reference="test funding")
    return alice


def fill(order_id: str, qty: str, price: str) -> None:
    execution_apply(report=ExecutionReport(order_id=uuid.UUID(order_id), exec_id=str(uuid.uuid4()),
                                           exec_type="fill", last_qty=Decimal(qty), last_price=Decimal(price),
                                           cum_qty=Decimal(qty), leaves_qty=Decimal("0"), avg_price=Decimal(price)))


def state(customer: Customer) -> tuple[Any, ...]:
    balances = cash_balances(account=customer.account)
    return (balances.available, balances.held, Order.objects.filter(account=customer.account).count(),
            OutboxMessage.objects.count())


def test_place_get_replace_cancel(funded: Customer, acme: Instrument) -> None:
    client = funded.client
    placed = client.post("/v2/orders", {"symbol": "ACME", "qty": 10, "side": "buy", "type": "limit",
                                        "time_in_force": "day", "limit_price": 99.5, "client_order_id": "c-1"},
                         format="json")
    assert placed.status_code == 200, placed.content
    order = placed.json()
    assert order["status"] == "pending_new" and order["qty"] == "10" and order["limit_price"] == "99.5"
    assert cash_balances(account=funded.account).held == Decimal("995.00")
    assert client.get(f"/v2/orders/{order['id']}").json()["client_order_id"] == "c-1"
    assert client.get("/v2/orders:by_client_order_id", {"client_order_id": "c-1"}).json()["id"] == order["id"]
    assert [o["id"] for o in client.get("/v2/orders").json()] == [order["id"]]

    execution_apply(report=ExecutionReport(order_id=uuid.UUID(order["id"]), exec_id="ack", exec_type="new"))
    replaced = client.patch(f"/v2/orders/{order['id']}", {"qty": 5, "limit_price": "99.00"}, format="json")
    assert replaced.status_code == 200, replaced.content
    assert replaced.json()["replaces"] == order["id"]
    assert client.get(f"/v2/orders/{order['id']}").json()["status"] == "pending_replace"

    new_id = replaced.json()["id"]
    assert client.delete(f"/v2/orders/{new_id}").status_code == 204
    assert client.get(f"/v2/orders/{new_id}").json()["status"] == "pending_cancel"
    cancel_all = client.delete("/v2/orders")
    assert cancel_all.status_code == 207


def test_buying_power_denial_is_403_and_changes_nothing(funded: Customer, acme: Instrument) -> None:
    before = state(funded)
    response = funded.client.post("/v2/orders", {"symbol": "ACME", "qty": "1000", "side": "buy", "type": "limit",
                                                  "time_in_force": "day", "limit_price": "100"}, format="json")
    assert response.status_code == 403
    assert response.json() == {"code": 40310000, "message": response.json()["message"]}
    assert "buying power" in response.json()["message"]
    assert state(funded) == before


@pytest.mark.parametrize(("body", "status"), [
    ({"symbol": "ACME", "qty": "-1", "side": "buy", "type": "market", "time_in_force": "day"}, 422),
    ({"symbol": "ACME", "qty": "0", "side": "buy", "type": "market", "time_in_force": "day"}, 422),
    ({"symbol": "ACME", "qty": "1", "notional": "100", "side": "buy", "type": "market", "time_in_force": "day"}, 422),
    ({"symbol": "ACME", "side": "buy", "type": "market", "time_in_force": "day"}, 422),
    ({"symbol": "NOPE", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"}, 422),
    ({"symbol": "ACME", "qty": "1", "side": "buy", "type": "limit", "time_in_force": "day",
      "limit_price": "99.995"}, 422),
    ({"symbol": "ACME", "qty": "abc", "side": "buy", "type": "market", "time_in_force": "day"}, 422),
    ({"symbol": "ACME", "qty": "1", "side": "up", "type": "market", "time_in_force": "day"}, 422),
    ({"symbol": "ACME", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day",
      "trail_percent": "1"}, 422),
    ({"symbol": ["ACME"], "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"}, 422),
    ({"symbol": "ACME", "qty": "1.5", "side": "buy", "type": "market", "time_in_force": "day"}, 422),
])
def test_bad_order_input_is_4xx_and_changes_nothing(funded: Customer, acme: Instrument, body: dict,
                                                    status: int) -> None:
    before = state(funded)
    response = funded.client.post("/v2/orders", body, format="json")
    assert response.status_code == status, response.content
    assert set(response.json()) == {"code", "message"} and response.json()["code"] == status * 100000 + 10000
    assert state(funded) == before


def test_malformed_json_order_changes_nothing(funded: Customer, acme: Instrument) -> None:
    before = state(funded)
    truncated = '{"symbol": "ACME", "qty": '
    response = funded.client.generic("POST", "/v2/orders", truncated, content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == 40010000
    assert funded.client.generic("POST", "/v2/orders", "[1, 2]", content_type="application/json").status_code == 422
    assert state(funded) == before


def test_fill_position_account_and_close(funded: Customer, acme: Instrument) -> None:
    client = funded.client
    order = client.post("/v2/orders", {"symbol": "ACME", "qty": "10", "side": "buy", "type": "market",
                                       "time_in_force": "day"}, format="json").json()
    fill(order["id"], "10", "100.00")
    publish_quote("ACME", "109.99", "110.01", "110.00")
    position = client.get("/v2/positions/ACME").json()
    assert position["qty"] == "10" and position["avg_entry_price"] == "100"
    assert position["market_value"] == "1100" and position["unrealized_pl"] == "100"
    assert client.get(f"/v2/positions/{acme.id}").json()["symbol"] == "ACME"
    account = client.get("/v2/account").json()
    assert Decimal(account["cash"]) == Decimal("9000") and Decimal(account["equity"]) == Decimal("10100")
    assert account["buying_power"] == account["cash"]

    too_much = client.delete("/v2/positions/ACME?qty=11")
    assert too_much.status_code == 403
    half = client.delete("/v2/positions/ACME?percentage=50")
    assert half.status_code == 200, half.content
    assert half.json()["side"] == "sell" and half.json()["qty"] == "5"
    closed_all = client.delete("/v2/positions?cancel_orders=true")
    assert closed_all.status_code == 207
    assert [r["symbol"] for r in closed_all.json()] == ["ACME"]


def test_user_b_gets_404_for_every_object_of_user_a(funded: Customer, bob: Customer, acme: Instrument) -> None:
    deposit(account=bob.account, amount=Decimal("10000"), reference="test funding")
    order = funded.client.post("/v2/orders", {"symbol": "ACME", "qty": "10", "side": "buy", "type": "market",
                                              "time_in_force": "day", "client_order_id": "alice-1"},
                               format="json").json()
    fill(order["id"], "10", "100.00")
    open_order = funded.client.post("/v2/orders", {"symbol": "ACME", "qty": "1", "side": "buy", "type": "limit",
                                                   "time_in_force": "gtc", "limit_price": "99"}, format="json").json()
    watchlist = funded.client.post("/v2/watchlists", {"name": "w", "symbols": ["ACME"]}, format="json").json()
    before = state(funded)

    b = bob.client
    for path in (f"/v2/orders/{order['id']}", f"/v2/orders/{open_order['id']}", "/v2/positions/ACME",
                 f"/v2/positions/{acme.id}", f"/v2/watchlists/{watchlist['id']}"):
        assert b.get(path).status_code == 404, path
    assert b.get("/v2/orders:by_client_order_id", {"client_order_id": "alice-1"}).status_code == 404
    assert b.patch(f"/v2/orders/{open_order['id']}", {"qty": "2"}, format="json").status_code == 404
    assert b.delete(f"/v2/orders/{open_order['id']}").status_code == 404
    assert b.delete("/v2/positions/ACME").status_code == 404
    assert b.delete(f"/v2/watchlists/{watchlist['id']}").status_code == 404
    assert b.get("/v2/orders", {"status": "all"}).json() == []
    assert b.get("/v2/positions").json() == []
    assert b.delete("/v2/orders").json() == []
    assert b.delete("/v2/positions").json() == []
    assert b.get("/v2/account").json()["id"] == str(bob.account.id)
    assert all(a.get("account_id") in (None, str(bob.account.id)) for a in b.get("/v2/account/activities").json())

    assert state(funded) == before
    assert Order.objects.get(id=open_order["id"]).status == "pending_new"
    assert Watchlist.objects.filter(id=watchlist["id"]).exists()


def test_activities_and_portfolio_history_shapes(funded: Customer) -> None:
    activities = funded.client.get("/v2/account/activities")
    assert activities.status_code == 200 and isinstance(activities.json(), list)
    assert funded.client.get("/v2/account/activities/FILL").status_code == 200
    history = funded.client.get("/v2/account/portfolio/history", {"period": "1M", "timeframe": "1D"})
    assert history.status_code == 200
    assert {"timestamp", "equity", "profit_loss", "profit_loss_pct", "timeframe"} <= set(history.json())
    assert funded.client.get("/v2/account/portfolio/history", {"period": "x"}).status_code == 422
