from apps.realtime.tests.conftest import (
    clean_redis,
    committed,
    kafka_topics,
    live_address,
    quotes_producer,
    test_database,
)

__all__ = ["clean_redis", "committed", "kafka_topics", "live_address", "quotes_producer", "test_database"]
