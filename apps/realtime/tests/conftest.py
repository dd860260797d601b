"""Fixtures: one uvicorn server and one fanout / order-updates worker per session (consumer-group
joins on the broker take seconds), market-data Redis keys removed before each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

import pytest

from apps.ops.clients import redis_client
from apps.realtime.tests.support import QuoteProducer, asgi_server, worker
from workers.fanout import fanout_run, order_updates_run
from workers.kafka import topics_ensure

T = TypeVar("T")


class Committed:
    """Rows created in autocommit mode (visible to the server's threads), deleted at teardown."""

    def __init__(self) -> None:
        self.created: list[Any] = []

    def add(self, obj: T) -> T:
        self.created.append(obj)
        return obj


@pytest.fixture(scope="session")
def test_database(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Make sure the test database exists even when no selected test carries a django_db marker
    (pytest-django only creates it for marked tests; these tests must not be wrapped in one)."""
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    wanted = connection.creation._get_test_db_name()
    config = None
    if not connection.settings_dict["NAME"].startswith("test_"):
        with django_db_blocker.unblock():
            # An open connection to the development database would take the migrations there.
            connection.close()
            connection.close_pool()
            config = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            connection.close_pool()
            # Connections the server's worker threads still hold would block DROP DATABASE.
            with connection._nodb_cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = %s AND pid <> pg_backend_pid()", [wanted])
            if config is not None:
                teardown_databases(config, verbosity=0)


@pytest.fixture
def committed(test_database: None, django_db_blocker: Any) -> Iterator[Committed]:
    """Database access without a wrapping test transaction.

    The live ASGI server reads from its own connections, so it only sees committed rows; pytest's
    transaction=True mode would TRUNCATE every table afterwards, which the append-only journal and
    audit triggers refuse. Tests register what they create and it is deleted here, newest first.
    """
    holder = Committed()
    with django_db_blocker.unblock():
        try:
            yield holder
        finally:
            from django.contrib.sessions.models import Session

            from apps.marketdata.models import DailyBar

            DailyBar.objects.all().delete()
            Session.objects.all().delete()
            for obj in reversed(holder.created):
                try:
                    obj.delete()
                except Exception as exc:  # a PROTECTed row some other service created: report, go on
                    print(f"cleanup: kept {type(obj).__name__} {obj.pk} ({type(exc).__name__})")


@pytest.fixture(scope="session")
def live_address(test_database: None) -> Iterator[str]:
    with asgi_server() as address:
        yield address


@pytest.fixture(scope="session")
def kafka_topics() -> None:
    topics_ensure()


@pytest.fixture(scope="session")
def fanout_worker(kafka_topics: None) -> Iterator[None]:
    with worker(fanout_run, name="fanout-test"):
        yield


@pytest.fixture(scope="session")
def order_updates_worker(kafka_topics: None) -> Iterator[None]:
    with worker(order_updates_run, name="order-updates-test"):
        yield


@pytest.fixture
def quotes_producer(kafka_topics: None) -> QuoteProducer:
    return QuoteProducer()


@pytest.fixture(autouse=True)
def clean_redis() -> None:
    # Only the market-data keys: another suite's isolation name may hash to the same database.
    client = redis_client()
    for pattern in ("quote:*", "bar:*", "bars:*", "md:seen:*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
