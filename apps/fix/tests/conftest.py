"""FIX test fixtures: a real venue acceptor (in a child process, see venue_process.py) and real
initiators on loopback, ephemeral ports, stores under pytest's tmp dirs. Nothing here mocks
QuickFIX, Redis or Kafka."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from apps.fix.gateway import INFLIGHT_KEY, OrderGateway
from apps.fix.sessions import Endpoint, SessionSpec
from apps.fix.tests.venue_process import VenueProcess, start_venue
from apps.ops.clients import redis_client
from apps.orders.tests.conftest import committed_database, committed_db  # noqa: F401 - shared fixtures
from apps.orders.types import ExecutionReport

SYMBOLS = ["AAPL", "MSFT", "SPY", "XYZ"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], bool], *, timeout: float = 15.0, what: str = "condition",
             detail: Callable[[], object] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f": {detail()}" if detail else ""))


class Specs:
    """Sessions of one test. CompIDs are unique per test: QuickFIX keeps one process-wide session
    registry, and a session of an earlier test's acceptor must never be found by a later one."""

    def __init__(self) -> None:
        suffix = uuid.uuid4().hex[:6].upper()
        self.sender = f"BROKER{suffix}"
        self.order = SessionSpec(sender=self.sender, target=f"EXCHANGE{suffix}", port=free_port())
        self.md = SessionSpec(sender=self.sender, target=f"EXCHANGEMD{suffix}", port=free_port(),
                              persist_messages=False)


def endpoint(path: Path) -> Endpoint:
    return Endpoint(store_dir=path, heartbeat_seconds=1, reconnect_seconds=1)


@pytest.fixture
def specs() -> Specs:
    return Specs()


@pytest.fixture
def venue_factory(specs: Specs, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Starts venues; yields a function returning the control handle (see VenueHandle)."""
    started: list[VenueProcess] = []

    def start(*, symbols: list[str] = SYMBOLS, md_interval: float = 0.05, per_interval: int = 100) -> Any:
        process = start_venue(symbols=symbols, order_spec=specs.order, md_spec=specs.md,
                              store_dir=tmp_path / "venue", md_interval=md_interval, per_interval=per_interval)
        started.append(process)
        return process.handle

    yield start
    for process in started:
        process.close()


@pytest.fixture
def venue(venue_factory: Callable[..., Any]) -> Any:
    return venue_factory()


class Recorder:
    """Stands in for the trading core at the ExecutionReport boundary: keeps what it is given."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reports: list[ExecutionReport] = []
        self.by_order: dict[uuid.UUID, list[ExecutionReport]] = defaultdict(list)

    def __call__(self, report: ExecutionReport) -> None:
        with self.lock:
            self.reports.append(report)
            self.by_order[report.order_id].append(report)

    def kinds(self, order_id: uuid.UUID) -> list[str]:
        with self.lock:
            return [r.exec_type for r in self.by_order[order_id]]


@pytest.fixture
def clean_gateway_state(specs: Specs) -> None:
    redis_client().delete(INFLIGHT_KEY.format(session=specs.order.session_id.toString()))


@pytest.fixture
def gateway_factory(specs: Specs, tmp_path: Path, clean_gateway_state: None) -> Iterator[Callable[..., OrderGateway]]:
    started: list[OrderGateway] = []

    def start(*, apply_report: Callable[[ExecutionReport], object] | None = None, stale_after: float = 60.0,
              wait: bool = True) -> OrderGateway:
        gateway = OrderGateway(spec=specs.order, endpoint=endpoint(tmp_path / "gateway"),
                               apply_report=apply_report, stale_after_seconds=stale_after)
        gateway.start()
        started.append(gateway)
        if wait:
            wait_for(gateway.logged_on.is_set, what="order session logon")
        return gateway

    yield start
    for gateway in started:
        gateway.stop(drain_seconds=1)


def place_envelope(*, symbol: str = "AAPL", side: str = "buy", type: str = "market", qty: str = "10",
                   limit_price: str = "", stop_price: str = "", tif: str = "day",
                   order_id: uuid.UUID | None = None) -> dict:
    order_id = order_id or uuid.uuid4()
    return {
        "event_id": str(uuid.uuid4()), "type": "PlaceOrder", "occurred_at": "", "account_id": str(uuid.uuid4()),
        "payload": {"order_id": str(order_id), "account_id": "acc", "client_order_id": "c", "symbol": symbol,
                    "side": side, "type": type, "time_in_force": tif, "qty": qty, "notional": "",
                    "limit_price": limit_price, "stop_price": stop_price},
    }
