"""The browser test runs against the same live stack as the real-time tests: a uvicorn server,
the fanout and order-updates workers on the broker, committed rows."""

from apps.realtime.tests.conftest import (  # noqa: F401 - shared fixtures
    clean_redis,
    committed,
    fanout_worker,
    kafka_topics,
    live_address,
    order_updates_worker,
    quotes_producer,
    test_database,
)
