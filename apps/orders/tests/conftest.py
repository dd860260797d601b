"""Fixtures for the trading core tests: a funded account, a tradable instrument with a quote, and
committed (non-transactional) database access for tests with real threads.

`transaction=True` cannot be used in this project: its flush TRUNCATEs the append-only journal and
audit tables, which their triggers refuse. Committed tests instead create their own accounts and
scope every assertion to them; the test database is dropped at the end of the session.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections

from apps.ledger.services import deposit
from apps.ops.clients import redis_client
from tests.factories import AccountFactory, InstrumentFactory, UserFactory


@pytest.fixture
def instrument(db):
    instrument = InstrumentFactory(symbol="XYZ", tick_size=Decimal("0.01"), lot_size=Decimal("1"))
    redis_client().hset("quote:XYZ", mapping={"bid": "9.99", "ask": "10.01", "last": "10.00"})
    yield instrument
    redis_client().delete("quote:XYZ")


@pytest.fixture
def funded_account(db):
    account = AccountFactory()
    deposit(account=account, amount=Decimal("1000"), reference="test funding")
    return account


@pytest.fixture(scope="session")
def committed_database(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """The test database, even when no test of the session carries the django_db marker
    (pytest-django only creates it for marked tests); never the development database."""
    from django.test.utils import setup_databases, teardown_databases

    config = None
    if not connections["default"].settings_dict["NAME"].startswith("test_"):
        with django_db_blocker.unblock():
            # A connection still open to the development database would carry the test database's
            # migrations there (and leave the test database empty): close it before the switch.
            connections["default"].close()
            connections["default"].close_pool()
            config = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    # A pool opened before the switch to the test database still hands out connections to the
    # development database: start a fresh one from the current settings.
    with django_db_blocker.unblock():
        connections["default"].close()
        connections["default"].close_pool()
    yield
    if config is not None:
        with django_db_blocker.unblock():
            connections.close_all()
            teardown_databases(config, verbosity=0)


@pytest.fixture
def committed_db(committed_database: None, django_db_blocker: Any) -> Iterator[None]:
    """Autocommit database access: services' durable transactions commit for real, visible to
    every thread."""
    name = connections["default"].settings_dict["NAME"]
    if not name.startswith("test_"):
        pytest.fail(f"refusing to run committed tests against database {name!r}")
    with django_db_blocker.unblock():
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT current_database()")
            actual = cursor.fetchone()[0]
        if actual != name:
            pytest.fail(f"connected to database {actual!r}, expected the test database {name!r}")
        yield
        connections.close_all()


@pytest.fixture
def large_pool(committed_db: None) -> Iterator[int]:
    """A connection pool sized for 200 concurrent threads (PostgreSQL allows 400 connections)."""
    connection = connections["default"]
    if "pool" not in connection.settings_dict["OPTIONS"]:
        yield 210  # no pool under the test settings: each thread opens its own connection
        return
    options = connection.settings_dict["OPTIONS"]["pool"]
    previous = dict(options)
    connection.close()
    connection.close_pool()
    options["max_size"] = 210
    options["timeout"] = 60
    yield 210
    connections.close_all()
    connection.close_pool()
    options.clear()
    options.update(previous)


def unique_account():
    """An account with a collision-free number and username (committed rows outlive a test)."""
    unique = uuid.uuid4().hex
    return AccountFactory(owner=UserFactory(username=f"core-{unique[:12]}"), account_number=f"BKC{unique[:13]}")


@pytest.fixture
def committed_instrument(committed_db: None):
    return InstrumentFactory(symbol="RACE", tick_size=Decimal("0.01"), lot_size=Decimal("1"))
